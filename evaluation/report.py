"""Write what an evaluation found: ``report.json`` (everything), ``summary.md`` and the plots.

The JSON keeps every question's ranks and top candidates, so a regression can be traced to the
questions that moved without re-running the eval.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Any

from rich.console import Console

from evaluation.plots import write_plots
from evaluation.runner import QuestionRun
from evaluation.suite import EvalReport
from evaluation.sweep import fmt_threshold
from evaluation.tables import all_tables

REPORT_JSON = "report.json"
SUMMARY_MD = "summary.md"
TOP_SHOWN = 3


def _question_row(runs: dict[str, QuestionRun]) -> dict[str, Any]:
    question = next(iter(runs.values())).question
    row: dict[str, Any] = {
        "id": question.id,
        "set": question.set_name,
        "split": question.split,
        "course_id": question.course_id,
        "kind": question.kind,
        "language": question.language,
        "file": question.file,
        "pages": [question.page, *question.alt_pages] if question.page else [],
    }
    for mode, run in runs.items():
        row[mode] = {
            "right_rank": run.right_rank(),
            "top": [[h.filename, h.page, h.distance] for h in run.deep[:TOP_SHOWN]],
        }
    return row


def to_json(report: EvalReport) -> dict[str, Any]:
    modes: dict[str, Any] = {}
    for mode, result in report.results.items():
        modes[mode] = {
            "overall": result.scores.as_dict(),
            **{
                f"by_{group}": {name: s.as_dict() for name, s in values.items()}
                for group, values in result.groups.items()
            },
            "by_kind_and_split": result.by_split.as_dict(),
            "recommendation": result.recommendation.as_dict(),
            "at_configured_threshold": asdict(result.at_configured),
            "sweep": [asdict(p) for p in result.points],
        }
    by_id: dict[str, dict[str, QuestionRun]] = {}
    for mode, runs in report.runs.items():
        for run in runs:
            by_id.setdefault(f"{run.question.set_name}/{run.question.id}", {})[mode] = run
    config = asdict(report.config)
    config["work_dir"] = str(report.config.work_dir)
    return {
        "date": date.today().isoformat(),
        "settings": report.settings,
        "config": config,
        "counts": {
            "questions": len(report.questions),
            "answerable": sum(q.answerable for q in report.questions),
            "not_covered": sum(not q.answerable for q in report.questions),
            **{
                f"set:{name}": sum(q.set_name == name for q in report.questions)
                for name in report.config.sets
            },
            **{
                f"split:{name}": sum(q.split == name for q in report.questions)
                for name in sorted({q.split for q in report.questions})
            },
        },
        "headline": {"mode": report.headline_mode, **report.recommendation.as_dict()},
        "modes": modes,
        "distances": {**report.distances.summary(), "raw": asdict(report.distances)},
        "seconds": report.seconds,
        "diagnostics": report.diagnostics,
        "questions": [_question_row(runs) for runs in by_id.values()],
    }


def recommendation_text(report: EvalReport) -> str:
    rec = report.recommendation
    p, uncut = rec.point, rec.uncut
    return (
        f"Recommended RAG_DISTANCE_THRESHOLD={fmt_threshold(rec.threshold)} for "
        f"{report.settings['embedding_model']} ({rec.mode}, RAG_TOP_K={rec.top_k}, rule "
        f"'{rec.rule}'): keeps the right page for {100 * p.right_kept:.1f}% of answerable "
        f"questions "
        f"(no cut: {100 * uncut.right_kept:.1f}%), refuses {100 * (1 - p.answered):.1f}% of them, "
        f"and rejects {100 * p.rejected:.1f}% of not-covered questions. "
        f"Configured now: {fmt_threshold(report.settings['configured_threshold'])}."
    )


def markdown(report: EvalReport) -> str:
    s = report.settings
    head = [
        f"# Retrieval eval ({date.today().isoformat()})",
        "",
        f"Sets: {', '.join(report.config.sets)}; {len(report.questions)} questions "
        f"({sum(q.answerable for q in report.questions)} answerable). Model "
        f"`{s['embedding_model']}`, chunks {s['chunk_size_words']} words "
        f"(overlap {s['chunk_overlap_words']}), key prefix `{s['key_prefix']}`, "
        f"depth {report.config.depth}. Took {report.seconds['total']:.0f} s "
        f"(indexing {report.seconds['index']:.0f} s).",
        "",
        recommendation_text(report),
        "",
    ]
    body = "\n\n".join(t.markdown() for t in all_tables(report))
    tail = ["", "", f"Diagnostics: `{json.dumps(report.diagnostics)}`", ""]
    return "\n".join(head) + body + "\n".join(tail)


def write(report: EvalReport, out_dir: Path) -> list[Path]:
    """report.json, summary.md and the two plots in ``out_dir``; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / REPORT_JSON
    json_path.write_text(json.dumps(to_json(report), indent=1) + "\n", encoding="utf-8")
    md_path = out_dir / SUMMARY_MD
    md_path.write_text(markdown(report), encoding="utf-8")
    plots = write_plots(
        out_dir,
        report.points,
        list(report.results),
        report.distances,
        report.recommendation,
        report.settings["configured_threshold"],
        report.settings["embedding_model"],
    )
    return [json_path, md_path, *plots]


def show(report: EvalReport, console: Console) -> None:
    for table in all_tables(report):
        console.print(table.rich())
    console.print(recommendation_text(report))
    console.print(f"seconds: {report.seconds}  diagnostics: {report.diagnostics}")
