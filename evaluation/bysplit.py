"""Scores by kind with the dev and held-out splits side by side, and the refusal rule's cost.

Tuning on dev can only be trusted if held-out moves with it, so every number here comes per split:
hit@k and MRR per question kind (and for all answerable questions), once over all material and
once over the real corpus PDFs only (the shape of the independent student measurement); the same
"as served": only candidates within ``RAG_DISTANCE_THRESHOLD`` count, as only those reach the
answer and its sources; and the current "not covered" rule — nothing within the threshold among
the ``RAG_TOP_K`` candidates, decided before any LLM call — as the share of not-covered questions
it refuses and the share of answerable questions it wrongly refuses.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from evaluation.dataset import Question
from evaluation.metrics import HIT_KS, Scores, score
from evaluation.runner import KEEP_ALL, QuestionRun

ALL_ANSWERABLE = "all answerable"
SPLIT_ORDER = ("dev", "heldout", "legacy")
KIND_ORDER = ("close", "paraphrase", "crosslingual", "distractor")


@dataclass(frozen=True)
class RefusalRates:
    """Questions with nothing kept under the configured cut, at the configured top k."""

    not_covered: int
    not_covered_refused: int
    answerable: int
    answerable_refused: int

    @property
    def refused_share(self) -> float:
        return self.not_covered_refused / self.not_covered if self.not_covered else 0.0

    @property
    def false_refusal(self) -> float:
        return self.answerable_refused / self.answerable if self.answerable else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "not_covered": self.not_covered,
            "not_covered_refused": self.not_covered_refused,
            "refused_share": round(self.refused_share, 4),
            "answerable": self.answerable,
            "answerable_refused": self.answerable_refused,
            "false_refusal": round(self.false_refusal, 4),
        }


@dataclass(frozen=True)
class SplitTables:
    top_k: int
    threshold: float
    scores: dict[str, dict[str, Scores]]  # kind (or "all answerable") -> split -> scores
    corpus_scores: dict[str, dict[str, Scores]]  # the same, corpus PDFs only
    served: dict[str, dict[str, Scores]]  # only candidates within the threshold count
    corpus_served: dict[str, dict[str, Scores]]
    refusals: dict[str, RefusalRates]  # split -> rates

    def as_dict(self) -> dict[str, Any]:
        def grid(table: dict[str, dict[str, Scores]]) -> dict[str, Any]:
            return {kind: {s: v.as_dict() for s, v in row.items()} for kind, row in table.items()}

        return {
            "top_k": self.top_k,
            "threshold": self.threshold,
            "scores": grid(self.scores),
            "corpus_scores": grid(self.corpus_scores),
            "served": grid(self.served),
            "corpus_served": grid(self.corpus_served),
            "refusals": {split: rates.as_dict() for split, rates in self.refusals.items()},
        }


def _ordered(values: set[str], order: Sequence[str]) -> list[str]:
    return [v for v in order if v in values] + sorted(values - set(order))


def within(runs: Sequence[QuestionRun], threshold: float) -> Scores:
    """hit@k and MRR counting only the candidates within ``threshold`` (what the server cites)."""
    if threshold >= KEEP_ALL:
        return score(runs)
    rated = [r for r in runs if r.question.answerable]
    if not rated:
        return Scores(0, {k: 0.0 for k in HIT_KS}, 0.0)

    def rank(run: QuestionRun, k: int | None) -> int | None:
        hits = run.deep if k is None else run.top(k)
        return run.right_rank([h for h in hits if h.distance <= threshold])

    hit = {k: sum(rank(r, k) is not None for r in rated) / len(rated) for k in HIT_KS}
    reciprocal = [1.0 / found if (found := rank(r, None)) else 0.0 for r in rated]
    return Scores(len(rated), hit, sum(reciprocal) / len(rated))


def kind_by_split(
    runs: Sequence[QuestionRun],
    keep: Callable[[Question], bool] = lambda q: True,
    threshold: float = KEEP_ALL,
) -> dict[str, dict[str, Scores]]:
    answerable = [r for r in runs if r.question.answerable and keep(r.question)]
    splits = _ordered({r.question.split for r in answerable}, SPLIT_ORDER)
    kinds = _ordered({r.question.kind for r in answerable}, KIND_ORDER)
    table: dict[str, dict[str, Scores]] = {}
    for kind in [*kinds, ALL_ANSWERABLE]:
        row = {}
        for split in splits:
            picked = [
                r
                for r in answerable
                if r.question.split == split and kind in (ALL_ANSWERABLE, r.question.kind)
            ]
            if picked:
                row[split] = within(picked, threshold)
        if row:
            table[kind] = row
    return table


def refused(run: QuestionRun, top_k: int, threshold: float) -> bool:
    """The current rule: nothing among the top ``top_k`` within ``threshold``."""
    return all(hit.distance > threshold for hit in run.top(top_k))


def refusal_rates(
    runs: Sequence[QuestionRun], top_k: int, threshold: float
) -> dict[str, RefusalRates]:
    out = {}
    for split in _ordered({r.question.split for r in runs}, SPLIT_ORDER):
        mine = [r for r in runs if r.question.split == split]
        uncovered = [r for r in mine if not r.question.answerable]
        covered = [r for r in mine if r.question.answerable]
        out[split] = RefusalRates(
            len(uncovered),
            sum(refused(r, top_k, threshold) for r in uncovered),
            len(covered),
            sum(refused(r, top_k, threshold) for r in covered),
        )
    return out


def split_tables(runs: Sequence[QuestionRun], top_k: int, threshold: float) -> SplitTables:
    def corpus(question: Question) -> bool:
        return question.material == "corpus"

    return SplitTables(
        top_k,
        threshold,
        kind_by_split(runs),
        kind_by_split(runs, corpus),
        kind_by_split(runs, threshold=threshold),
        kind_by_split(runs, corpus, threshold),
        refusal_rates(runs, top_k, threshold),
    )
