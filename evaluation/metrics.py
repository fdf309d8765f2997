"""Ranking quality: hit@k and MRR, overall and per group, plus the distances behind them.

Only answerable questions count towards hit@k and MRR (a question the material does not cover has
no right page); ``not_covered`` questions are judged by the threshold sweep instead. hit@k uses
the ``top_k=k`` request itself (what the server serves); MRR uses the deep list (MRR@depth).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from evaluation.dataset import Question
from evaluation.runner import QuestionRun

HIT_KS = (1, 3, 5)
GROUPS: dict[str, Callable[[Question], str]] = {
    "language": lambda q: q.language,
    "kind": lambda q: q.kind,
    "file": lambda q: f"{q.course_id}/{q.file}",
    "set": lambda q: q.set_name,
    "split": lambda q: q.split,
    "material": lambda q: q.material,
}


@dataclass(frozen=True)
class Scores:
    n: int
    hit: dict[int, float]
    mrr: float

    def as_dict(self) -> dict[str, Any]:
        return {"n": self.n, **{f"hit@{k}": v for k, v in self.hit.items()}, "mrr": self.mrr}


def answerable(runs: Iterable[QuestionRun]) -> list[QuestionRun]:
    return [r for r in runs if r.question.answerable]


def score(runs: Sequence[QuestionRun], ks: Sequence[int] = HIT_KS) -> Scores:
    """hit@k and MRR over the answerable questions among ``runs`` (zeros when there are none)."""
    rated = answerable(runs)
    if not rated:
        return Scores(0, {k: 0.0 for k in ks}, 0.0)
    hit = {k: sum(r.right_rank(r.top(k)) is not None for r in rated) / len(rated) for k in ks}
    reciprocal = [1.0 / rank if (rank := r.right_rank()) else 0.0 for r in rated]
    return Scores(len(rated), hit, sum(reciprocal) / len(rated))


def breakdown(runs: Sequence[QuestionRun], group: str) -> dict[str, Scores]:
    """Scores per value of a question attribute (a key of :data:`GROUPS`)."""
    key = GROUPS[group]
    buckets: dict[str, list[QuestionRun]] = {}
    for run in answerable(runs):
        buckets.setdefault(key(run.question), []).append(run)
    return {name: score(buckets[name]) for name in sorted(buckets)}


@dataclass(frozen=True)
class DistanceSamples:
    """Cosine distances that show whether one cut can separate right from wrong sources.

    ``right``: the closest right chunk of each answerable question (when retrieved at all);
    ``best_wrong``: the closest chunk from a wrong page, for the same questions;
    ``not_covered``: the closest chunk of each question the material does not answer.
    """

    right: list[float]
    best_wrong: list[float]
    not_covered: list[float]

    def summary(self) -> dict[str, dict[str, float]]:
        return {name: quantiles(values) for name, values in asdict(self).items()}


def distance_samples(runs: Sequence[QuestionRun]) -> DistanceSamples:
    right: list[float] = []
    best_wrong: list[float] = []
    not_covered: list[float] = []
    for run in runs:
        hits = run.deep
        if not hits:
            continue
        if not run.question.answerable:
            not_covered.append(min(h.distance for h in hits))
            continue
        ok = [h.distance for h in hits if run.question.is_right(h.filename, h.page)]
        wrong = [h.distance for h in hits if not run.question.is_right(h.filename, h.page)]
        if ok:
            right.append(min(ok))
        if wrong:
            best_wrong.append(min(wrong))
    return DistanceSamples(right, best_wrong, not_covered)


def quantiles(values: Sequence[float]) -> dict[str, float]:
    """n, p10, median and p90 (empty dict entries are 0 when there are no values)."""
    if not values:
        return {"n": 0, "p10": 0.0, "median": 0.0, "p90": 0.0}
    if len(values) == 1:
        only = float(values[0])
        return {"n": 1, "p10": only, "median": only, "p90": only}
    cuts = statistics.quantiles(values, n=10, method="inclusive")
    return {
        "n": len(values),
        "p10": round(cuts[0], 4),
        "median": round(statistics.median(values), 4),
        "p90": round(cuts[-1], 4),
    }
