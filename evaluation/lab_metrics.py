"""hit@k and MRR of ranked chunk lists, by question kind, for the retrieval lab.

Same definitions as ``evaluation.metrics``: a hit is a chunk of the right file on the labelled
page or one of its ``alt_pages``; hit@k looks at the first k chunks; MRR at the first 20.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from evaluation.lab_data import LabQuestion

DEPTH = 20
Right = Callable[[LabQuestion, int], bool]  # (question, chunk index in its course) -> right?


@dataclass(frozen=True)
class Score:
    n: int
    hit1: float
    hit5: float
    mrr: float

    def cell(self) -> str:
        return f"{self.hit1:.2f} / {self.hit5:.2f} / {self.mrr:.3f}"


def rank_of(q: LabQuestion, ranked: Sequence[int], right: Right) -> int | None:
    for rank, doc in enumerate(ranked[:DEPTH], start=1):
        if right(q, doc):
            return rank
    return None


def score(pairs: Sequence[tuple[LabQuestion, Sequence[int]]], right: Right) -> Score:
    rated = [(q, r) for q, r in pairs if q.question.answerable]
    if not rated:
        return Score(0, 0.0, 0.0, 0.0)
    ranks = [rank_of(q, r, right) for q, r in rated]
    n = len(rated)
    return Score(
        n,
        sum(1 for k in ranks if k == 1) / n,
        sum(1 for k in ranks if k is not None and k <= 5) / n,
        sum(1.0 / k for k in ranks if k is not None) / n,
    )


def by_kind(
    questions: Sequence[LabQuestion], lists: Sequence[Sequence[int]], right: Right
) -> dict[str, Score]:
    """Scores for all answerable questions and for each kind."""
    pairs = list(zip(questions, lists, strict=True))
    kinds = sorted({q.kind for q in questions if q.question.answerable})
    out = {"all": score(pairs, right)}
    for kind in kinds:
        out[kind] = score([(q, r) for q, r in pairs if q.kind == kind], right)
    return out


def table(rows: dict[str, dict[str, Score]]) -> str:
    """Markdown: one row per method, one column per kind (hit@1 / hit@5 / MRR)."""
    kinds = list(next(iter(rows.values())))
    head = " | ".join(f"{k} (n={next(iter(rows.values()))[k].n})" for k in kinds)
    lines = [f"| method | {head} |", "|---" + "|---:" * len(kinds) + "|"]
    for name, scores in rows.items():
        lines.append(f"| {name} | " + " | ".join(scores[k].cell() for k in kinds) + " |")
    return "\n".join(lines)
