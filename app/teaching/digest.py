"""The weekly digest of a course's insights, as Markdown and as HTML (one e-mail, two parts).

Everything students wrote is escaped: in HTML by ``html.escape``, in Markdown by stripping the
characters that would turn a question into a link, an image or a heading in a mail client.
"""

from __future__ import annotations

import html
import re

from app.teaching.insight_models import CourseInsights

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-!|<>])")


def _md(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return _MD_SPECIAL.sub(r"\\\1", flat)


def _h(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return html.escape(flat)


def subject(insights: CourseInsights) -> str:
    return (
        f"Course tutor digest — {insights.course_id}, "
        f"{insights.start:%d %b} to {insights.end:%d %b %Y}"
    )


def _summary(i: CourseInsights) -> list[tuple[str, str]]:
    t = i.totals
    return [
        ("Questions", str(t.questions)),
        ("Students", str(t.students)),
        ("Answered from the material", str(t.answered)),
        ("Not covered by the material", str(t.not_covered)),
        ("Curated answers served", str(t.curated)),
        ("Downvotes / upvotes", f"{t.downvotes} / {t.upvotes}"),
    ]


def markdown(i: CourseInsights) -> str:
    lines = [f"# {_md(subject(i))}", ""]
    lines += [f"- {label}: **{value}**" for label, value in _summary(i)]
    lines += ["", "## What students asked about", ""]
    for topic in i.topics:
        lines.append(
            f"- **{_md(topic.label)}** — {topic.questions} questions, {topic.students} students"
        )
        lines += [f"  - {_md(q)}" for q in topic.examples]
    if not i.topics:
        lines.append("No recurring topics this week.")
    lines += ["", "## Questions the material did not cover", ""]
    lines += [f"- {_md(g.question)} ({g.count}×, {g.students} students)" for g in i.content_gaps]
    if not i.content_gaps:
        lines.append("None.")
    lines += ["", "## Downvoted answers", ""]
    for d in i.downvoted:
        comment = f" — “{_md(d.comment)}”" if d.comment else ""
        lines.append(f"- {_md(d.question)}{comment}")
    if not i.downvoted:
        lines.append("None.")
    lines += ["", "## Pages cited most", ""]
    lines += [
        f"- {_md(p.title or p.filename)}, p. {_md(p.page_label)}: {p.citations}"
        for p in i.top_pages
    ]
    if not i.top_pages:
        lines.append("None.")
    return "\n".join(lines) + "\n"


def _list(items: list[str], empty: str) -> str:
    if not items:
        return f"<p>{empty}</p>"
    return "<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>"


def html_page(i: CourseInsights) -> str:
    summary = "".join(f"<tr><th>{_h(k)}</th><td>{_h(v)}</td></tr>" for k, v in _summary(i))
    topics = [
        f"<strong>{_h(t.label)}</strong> — {t.questions} questions, {t.students} students"
        + _list([_h(q) for q in t.examples], "")
        for t in i.topics
    ]
    gaps = [f"{_h(g.question)} ({g.count}×, {g.students} students)" for g in i.content_gaps]
    downs = [_h(d.question) + (f" — “{_h(d.comment)}”" if d.comment else "") for d in i.downvoted]
    pages = [
        f"{_h(p.title or p.filename)}, p. {_h(p.page_label)}: {p.citations}" for p in i.top_pages
    ]
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{_h(subject(i))}</title></head>"
        '<body style="font-family: sans-serif; max-width: 40em">'
        f"<h1>{_h(subject(i))}</h1><table>{summary}</table>"
        f"<h2>What students asked about</h2>{_list(topics, 'No recurring topics this week.')}"
        f"<h2>Questions the material did not cover</h2>{_list(gaps, 'None.')}"
        f"<h2>Downvoted answers</h2>{_list(downs, 'None.')}"
        f"<h2>Pages cited most</h2>{_list(pages, 'None.')}"
        "</body></html>"
    )
