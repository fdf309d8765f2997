"""Check the ``students`` eval set against the material it labels, so the set cannot rot.

``python -m evaluation.setcheck`` (and ``tests/unit/test_eval_sets.py``) verifies, with no
services, for every question:

* the schema: kind, language (a ``crosslingual`` question differs from its material, the others
  match it), course and file, physical page and ``alt_pages`` in range and not a table of contents
  or book index, a ``split`` of ``dev`` or ``heldout``;
* ``answer_hint`` occurs on the labelled page (case-, Unicode- and whitespace-insensitive), read
  the way ingestion reads it (``evaluation.pagetext``);
* a ``paraphrase``, ``crosslingual`` or ``distractor`` question lifts no run of six or more words
  from its page;
* a ``distractor`` question's ``decoy.term`` is in the question and on every ``decoy.pages`` page
  (a table of contents, an index, a glossary, an exercise or another chapter), which do not
  answer it;
* a ``not_covered`` question's ``absent_terms`` (what was searched for) occur on no page of any of
  its course's files;

and for the set: at least 200 questions, 30 per kind, both cross-lingual directions, unique ids
and questions (also against the legacy sets), every (kind, course) stratum split within one
question of even, and the mean content-word overlap of the paraphrases at most 0.4.
"""

from __future__ import annotations

import argparse
import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evaluation import overlap as ov
from evaluation.dataset import (
    DATA_DIR,
    REPO_ROOT,
    SetName,
    corpus_courses,
    load_rows,
    sample_courses,
    set_path,
)
from evaluation.pagetext import PageTexts, squash
from evaluation.splits import SPLITS, imbalance

KINDS = ("close", "paraphrase", "crosslingual", "distractor", "not_covered")
ANSWERABLE_KINDS = KINDS[:-1]
LEGACY_SETS: tuple[SetName, ...] = ("corpus", "sample")
NO_COPY_KINDS = frozenset({"paraphrase", "crosslingual", "distractor"})
LANGUAGES = frozenset({"id", "en"})
ID_RE = re.compile(r"^q\d{3}$")
REQUIRED = ("id", "question", "course_id", "language", "kind", "split")
ANSWER_KEYS = ("file", "page", "alt_pages", "answer_hint")
MIN_TOTAL, MIN_PER_KIND, MIN_PER_DIRECTION = 200, 30, 10
MAX_PARAPHRASE_OVERLAP = 0.4
MAX_COPIED_RUN = 5
SHORT_TERM = 5
DOT_LEADERS = re.compile(r"(?:\.\s*){6,}")
INDEX_LINE = re.compile(r",\s*[0-9ivxlc]+(?:\s*[-–]\s*\d+)?\s*,?\s*$")


@dataclass(frozen=True)
class CourseFiles:
    course_id: str
    language: str
    files: dict[str, Path]  # file name -> PDF


@dataclass
class Report:
    items: list[dict[str, Any]]
    errors: list[str] = field(default_factory=list)
    overlaps: dict[str, float] = field(default_factory=dict)  # question id -> overlap


def catalog(render_dir: Path) -> dict[str, CourseFiles]:
    """Every course the set may ask about: the corpus courses and the rendered sample course."""
    courses = corpus_courses() + sample_courses(render_dir)
    return {
        c.course_id: CourseFiles(c.course_id, c.language, {m.filename: m.path for m in c.materials})
        for c in courses
    }


def toc_or_index(text: str) -> str | None:
    if len(DOT_LEADERS.findall(text)) >= 5:
        return "a table of contents"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) >= 20 and sum(bool(INDEX_LINE.search(ln)) for ln in lines) / len(lines) > 0.4:
        return "a book index"
    return None


def occurs(term: str, raw_page: str, squashed_page: str) -> bool:
    """Does ``term`` occur on the page? Terms of five letters or more are matched with all
    whitespace removed (robust to the PDFs' broken spacing); shorter ones, mostly acronyms, as
    whole words, so "SSD" is not found inside "prosesSDalam"."""
    squashed_term = squash(term)
    if len(squashed_term) >= SHORT_TERM:
        return squashed_term in squashed_page
    pattern = r"\s*".join(map(re.escape, squashed_term))
    if squashed_term[0].isalnum():
        pattern = r"(?<![^\W_])" + pattern
    if squashed_term[-1].isalnum():
        pattern += r"(?![^\W_])"
    return re.search(pattern, unicodedata.normalize("NFKC", raw_page).casefold()) is not None


def _schema(item: dict[str, Any], courses: dict[str, CourseFiles]) -> list[str]:
    qid = item.get("id", "?")
    missing = [k for k in REQUIRED if k not in item]
    if missing:
        return [f"{qid}: missing {missing}"]
    errs: list[str] = []
    kind, lang = item["kind"], item["language"]
    if not ID_RE.match(str(qid)):
        errs.append(f"{qid}: id must look like q001")
    if kind not in KINDS:
        errs.append(f"{qid}: kind {kind!r} not in {KINDS}")
    if lang not in LANGUAGES:
        errs.append(f"{qid}: language {lang!r}")
    if item["split"] not in SPLITS:
        errs.append(f"{qid}: split {item['split']!r} not in {SPLITS}")
    if not isinstance(item["question"], str) or len(item["question"].strip()) < 3:
        errs.append(f"{qid}: question must be a non-trivial string")
    course = courses.get(item["course_id"])
    if course is None:
        return [*errs, f"{qid}: unknown course {item['course_id']!r}"]
    if kind == "not_covered":
        terms = item.get("absent_terms")
        if not isinstance(terms, list) or not terms or not all(isinstance(t, str) for t in terms):
            errs.append(f"{qid}: not_covered needs absent_terms (the terms searched for)")
        if any(k in item for k in (*ANSWER_KEYS, "decoy")):
            errs.append(f"{qid}: not_covered has no file, page, alt_pages, hint or decoy")
        return errs
    absent = [k for k in ANSWER_KEYS if k not in item]
    if absent:
        return [*errs, f"{qid}: missing {absent}"]
    if item["file"] not in course.files:
        errs.append(f"{qid}: {item['file']!r} is not a file of {course.course_id}")
    pages = [item["page"], *item["alt_pages"]]
    if not all(isinstance(p, int) and not isinstance(p, bool) and p >= 1 for p in pages):
        errs.append(f"{qid}: page and alt_pages must be positive ints (physical, 1-based)")
    elif len(set(pages)) != len(pages):
        errs.append(f"{qid}: alt_pages repeat a page")
    if not isinstance(item["answer_hint"], str) or len(squash(item["answer_hint"])) < 4:
        errs.append(f"{qid}: answer_hint must be a phrase")
    if (kind == "crosslingual") == (lang == course.language):
        errs.append(f"{qid}: {kind} question in {lang!r} on {course.language!r} material")
    decoy = item.get("decoy")
    if kind == "distractor":
        if not isinstance(decoy, dict) or not decoy.get("term") or not decoy.get("pages"):
            errs.append(f"{qid}: a distractor needs decoy.term and decoy.pages")
    elif decoy is not None:
        errs.append(f"{qid}: only a distractor has a decoy")
    return errs


def _pages(
    item: dict[str, Any], course: CourseFiles, texts: PageTexts, report: Report
) -> list[str]:
    qid, kind = item["id"], item["kind"]
    if kind == "not_covered":
        hits = [
            f"{term!r} on {name} p.{i + 1}"
            for term in item["absent_terms"]
            for name, path in course.files.items()
            for i, (raw_page, page) in enumerate(
                zip(texts.raw(path), texts.squashed(path), strict=True)
            )
            if occurs(term, raw_page, page)
        ]
        return [f"{qid}: absent term found: {', '.join(hits[:5])}"] if hits else []
    path = course.files[item["file"]]
    raw, squashed = texts.raw(path), texts.squashed(path)
    errs = []
    for page in [item["page"], *item["alt_pages"]]:
        if not 1 <= page <= len(raw):
            errs.append(f"{qid}: page {page} outside 1..{len(raw)} of {item['file']}")
        elif reason := toc_or_index(raw[page - 1]):
            errs.append(f"{qid}: page {page} of {item['file']} looks like {reason}")
    if errs:
        return errs
    hint, text = squash(item["answer_hint"]), raw[item["page"] - 1]
    if hint not in squashed[item["page"] - 1]:
        found = [i + 1 for i, page in enumerate(squashed) if hint in page]
        errs.append(f"{qid}: hint not on p.{item['page']} of {item['file']} (found on {found})")
    run = ov.longest_copied_run(item["question"], text)
    if kind in NO_COPY_KINDS and run > MAX_COPIED_RUN:
        errs.append(f"{qid}: {kind} question copies {run} consecutive words from its page")
    if kind == "distractor":
        term, decoys = squash(item["decoy"]["term"]), item["decoy"]["pages"]
        if term not in squash(item["question"]):
            errs.append(f"{qid}: decoy term {item['decoy']['term']!r} is not in the question")
        for page in decoys:
            if page in (item["page"], *item["alt_pages"]) or not 1 <= page <= len(raw):
                errs.append(f"{qid}: decoy page {page} is an answer page or out of range")
            elif term not in squashed[page - 1]:
                errs.append(f"{qid}: decoy term not on decoy page {page}")
    value = ov.overlap(item["question"], text)
    if value is not None:
        report.overlaps[str(qid)] = value
    return errs


def _spread(report: Report, legacy_questions: set[str]) -> list[str]:
    items, errs = report.items, []
    kinds = Counter(str(it.get("kind")) for it in items)
    if len(items) < MIN_TOTAL:
        errs.append(f"set: {len(items)} questions, need >= {MIN_TOTAL}")
    short = [k for k in KINDS if kinds[k] < MIN_PER_KIND]
    errs += [f"set: {kinds[k]} {k}, need >= {MIN_PER_KIND}" for k in short]
    crossing = [it for it in items if it.get("kind") == "crosslingual"]
    directions = Counter(str(it.get("language")) for it in crossing)
    for lang in sorted(LANGUAGES):
        if directions[lang] < MIN_PER_DIRECTION:
            errs.append(f"set: {directions[lang]} crosslingual questions asked in {lang!r}")
    ids = Counter(str(it.get("id")) for it in items)
    errs += [f"{qid}: duplicate id" for qid, n in ids.items() if n > 1]
    texts = Counter(squash(str(it.get("question"))) for it in items)
    errs += [f"duplicate question {q!r}" for q, n in texts.items() if n > 1]
    errs += [
        f"{it['id']}: also in a legacy set"
        for it in items
        if squash(str(it.get("question"))) in legacy_questions
    ]
    errs += [f"split: {kind}/{course} off by {d}" for (kind, course), d in imbalance(items).items()]
    para = mean_overlap(report, "paraphrase")
    if para is None or para > MAX_PARAPHRASE_OVERLAP:
        errs.append(f"set: paraphrase mean overlap {para} > {MAX_PARAPHRASE_OVERLAP}")
    return errs


def mean_overlap(report: Report, kind: str) -> float | None:
    ids = {str(it["id"]) for it in report.items if it.get("kind") == kind}
    return ov.mean(v for qid, v in report.overlaps.items() if qid in ids)


def check(
    path: Path,
    render_dir: Path,
    cache_dir: Path | None = None,
    courses: dict[str, CourseFiles] | None = None,
) -> Report:
    """Check the set at ``path``; ``courses`` defaults to :func:`catalog` (renders the sample)."""
    courses = courses or catalog(render_dir)
    texts = PageTexts(cache_dir)
    report = Report(load_rows(path))
    for item in report.items:
        errs = _schema(item, courses)
        if not errs:
            errs = _pages(item, courses[item["course_id"]], texts, report)
        report.errors += errs
    legacy_rows = [row for name in LEGACY_SETS for row in load_rows(set_path(name))]
    report.errors += _spread(report, {squash(str(row["question"])) for row in legacy_rows})
    return report


def summary(report: Report) -> str:
    items = report.items
    lines = [f"{len(items)} questions ({Counter(str(i.get('split')) for i in items)})"]
    for kind in KINDS:
        mine = [it for it in items if it.get("kind") == kind]
        langs = Counter(str(it.get("language")) for it in mine)
        over = mean_overlap(report, kind)
        shown = "" if over is None else f", mean content-word overlap {over:.2f}"
        lines.append(f"  {kind:13s} {len(mine):3d}  {dict(sorted(langs.items()))}{shown}")
    courses = Counter(str(it.get("course_id")) for it in items)
    lines.append("  by course: " + ", ".join(f"{c} {n}" for c, n in sorted(courses.items())))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evaluation.setcheck", description=__doc__)
    parser.add_argument("--jsonl", type=Path, default=set_path("students", DATA_DIR))
    parser.add_argument("--work-dir", type=Path, default=REPO_ROOT / "evaluation" / "out")
    args = parser.parse_args(argv)
    report = check(args.jsonl, args.work_dir / "sample_courses", args.work_dir / "page_cache")
    print(summary(report))
    for error in report.errors:
        print(f"FAIL {error}", file=sys.stderr)
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
