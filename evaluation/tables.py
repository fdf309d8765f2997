"""The report's tables as plain data, rendered twice: rich for the terminal, Markdown for files.

Building the rows once keeps the terminal, ``summary.md`` and the benchmarks doc in step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.table import Table

from evaluation.metrics import HIT_KS, Scores
from evaluation.runner import Mode
from evaluation.suite import EvalReport
from evaluation.sweep import fmt_threshold


@dataclass(frozen=True)
class TableData:
    title: str
    headers: list[str]
    rows: list[list[str]]

    def markdown(self) -> str:
        lines = [
            f"**{self.title}**",
            "",
            "| " + " | ".join(self.headers) + " |",
            "|" + "|".join("---" if i == 0 else "---:" for i in range(len(self.headers))) + "|",
        ]
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join(lines)

    def rich(self) -> Table:
        table = Table(title=self.title, title_justify="left")
        for i, header in enumerate(self.headers):
            table.add_column(header, justify="left" if i == 0 else "right", overflow="fold")
        for row in self.rows:
            table.add_row(*row)
        return table


def pct(value: float) -> str:
    return f"{100 * value:.1f}"


def _score_cells(scores: Scores) -> list[str]:
    return [*(pct(scores.hit[k]) for k in HIT_KS), f"{scores.mrr:.3f}"]


def _score_headers(modes: Sequence[str]) -> list[str]:
    heads = [*(f"hit@{k}" for k in HIT_KS), "MRR"]
    if len(modes) == 1:
        return heads
    return [f"{h} {m}" for m in modes for h in heads]


def scores_table(report: EvalReport, group: str | None) -> TableData:
    """hit@k (%) and MRR per group value, the modes side by side."""
    modes = list(report.results)
    title = "Overall" if group is None else f"By {group}"
    rows: list[list[str]] = []
    if group is None:
        first = report.results[modes[0]].scores
        cells = [c for m in modes for c in _score_cells(report.results[m].scores)]
        rows.append(["all answerable", str(first.n), *cells])
    else:
        names = report.results[modes[0]].groups[group]
        for name, first in names.items():
            cells = [c for m in modes for c in _score_cells(report.results[m].groups[group][name])]
            rows.append([name, str(first.n), *cells])
    return TableData(
        f"{title} (hit@k in %, MRR@{report.config.depth})",
        [group or "questions", "n", *_score_headers(modes)],
        rows,
    )


def sweep_table(report: EvalReport, mode: str | None = None) -> TableData:
    """right-kept / answered / rejected (%) per threshold, at each top_k, for one mode."""
    chosen = mode or report.headline_mode
    points = [p for p in report.points if p.mode == chosen]
    ks = sorted({p.top_k for p in points})
    cuts = sorted({p.threshold for p in points})
    lookup = {(p.top_k, p.threshold): p for p in points}
    k_ref = report.settings["rag_top_k"] if report.settings["rag_top_k"] in ks else ks[-1]
    headers = [
        "threshold",
        *(f"right kept k={k}" for k in ks),
        f"answered k={k_ref}",
        f"not-cov. rejected k={k_ref}",
    ]
    rows = []
    for cut in cuts:
        label = fmt_threshold(cut)
        ref = lookup[(k_ref, cut)]
        rows.append(
            [
                label,
                *(pct(lookup[(k, cut)].right_kept) for k in ks),
                pct(ref.answered),
                pct(ref.rejected),
            ]
        )
    return TableData(f"Threshold sweep, {chosen} (% of questions)", headers, rows)


def recommendation_table(report: EvalReport) -> TableData:
    rows = []
    for mode, result in report.results.items():
        rec = result.recommendation
        for label, point in (
            ("recall rule", rec.recall_pick),
            ("balanced rule", rec.balanced_pick),
            ("configured", result.at_configured),
            ("no threshold", rec.uncut),
        ):
            cut = fmt_threshold(point.threshold)
            rows.append(
                [
                    f"{mode}: {label}",
                    cut,
                    pct(point.right_kept),
                    pct(point.answered),
                    pct(point.rejected),
                ]
            )
    k = report.settings["rag_top_k"]
    return TableData(
        f"Threshold candidates at RAG_TOP_K={k} (% of questions)",
        ["choice", "threshold", "right page kept", "answered", "not-covered rejected"],
        rows,
    )


def refusals_table(report: EvalReport) -> TableData:
    """Who the configured cut turns away: questions with nothing kept, per set and kind."""
    k, cut = report.settings["rag_top_k"], report.settings["configured_threshold"]
    rows = []
    for mode, runs in report.runs.items():
        buckets: dict[str, list[bool]] = {}
        for run in runs:
            q = run.question
            refused = all(h.distance > cut for h in run.top(k))
            label = f"{q.set_name} not covered" if not q.answerable else f"answerable {q.kind}"
            buckets.setdefault(label, []).append(refused)
        for label in sorted(buckets):
            flags = buckets[label]
            rows.append(
                [f"{mode}: {label}", str(len(flags)), str(sum(flags)), pct(sum(flags) / len(flags))]
            )
    return TableData(
        f"Refused (nothing within {fmt_threshold(cut)} in the top {k})",
        ["questions", "n", "refused", "%"],
        rows,
    )


def distance_table(report: EvalReport) -> TableData:
    rows = [
        [name, str(q["n"]), f"{q['p10']:.3f}", f"{q['median']:.3f}", f"{q['p90']:.3f}"]
        for name, q in report.distances.summary().items()
    ]
    return TableData(
        "Cosine distances (dense, closest chunk)", ["series", "n", "p10", "median", "p90"], rows
    )


def kind_split_table(
    report: EvalReport, mode: Mode, corpus_only: bool = False, served: bool = False
) -> TableData:
    """hit@k (%) and MRR per kind, the splits side by side (dev, heldout, legacy)."""
    tables = report.results[mode].by_split
    grids = {
        (False, False): tables.scores,
        (True, False): tables.corpus_scores,
        (False, True): tables.served,
        (True, True): tables.corpus_served,
    }
    grid = grids[(corpus_only, served)]
    splits = [s for s in ("dev", "heldout", "legacy") if any(s in row for row in grid.values())]
    heads = ["n", *(f"hit@{k}" for k in HIT_KS), "MRR"]
    rows = []
    for kind, row in grid.items():
        cells: list[str] = []
        for split in splits:
            got = row.get(split)
            cells += [str(got.n), *_score_cells(got)] if got else ["–"] * len(heads)
        rows.append([kind, *cells])
    where = "corpus PDFs only" if corpus_only else "all material"
    if served:
        cut = fmt_threshold(tables.threshold)
        where += f", as served (only candidates within {cut} count)"
    return TableData(
        f"By kind and split, {mode}, {where} (hit@k in %, MRR@{report.config.depth})",
        ["kind", *(f"{h} {s}" for s in splits for h in heads)],
        rows,
    )


def refusal_split_table(report: EvalReport) -> TableData:
    """The current rule's refusals per split: not-covered refused, answerable wrongly refused."""
    rows = []
    for mode, result in report.results.items():
        tables = result.by_split
        for split, rates in tables.refusals.items():
            rows.append(
                [
                    f"{mode}: {split}",
                    f"{rates.not_covered_refused}/{rates.not_covered}",
                    pct(rates.refused_share),
                    f"{rates.answerable_refused}/{rates.answerable}",
                    pct(rates.false_refusal),
                ]
            )
    k, cut = report.settings["rag_top_k"], fmt_threshold(report.settings["configured_threshold"])
    return TableData(
        f"Refused before the LLM (nothing within {cut} in the top {k}), by split",
        ["split", "not covered refused", "%", "answerable refused", "false refusal %"],
        rows,
    )


def all_tables(report: EvalReport) -> list[TableData]:
    return [
        *(kind_split_table(report, mode) for mode in report.results),
        *(kind_split_table(report, mode, corpus_only=True) for mode in report.results),
        *(kind_split_table(report, m, corpus_only=True, served=True) for m in report.results),
        refusal_split_table(report),
        scores_table(report, None),
        scores_table(report, "language"),
        scores_table(report, "kind"),
        scores_table(report, "set"),
        scores_table(report, "split"),
        scores_table(report, "material"),
        scores_table(report, "file"),
        recommendation_table(report),
        refusals_table(report),
        *(sweep_table(report, mode) for mode in report.results),
        distance_table(report),
    ]
