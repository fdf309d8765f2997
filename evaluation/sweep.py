"""RAG_DISTANCE_THRESHOLD × RAG_TOP_K, swept offline, and the threshold we recommend.

The server keeps the candidates within the threshold and, when none is left, answers "not covered"
without asking the LLM. So a cut has two costs: a tight one drops right pages (and refuses
questions the material answers), a loose one lets uncovered questions through to the LLM. Each
sweep point reports both, for every ``top_k``, from the per-k candidate lists of the runner.

Rules (both are reported; ``rule`` picks the headline):

* ``recall`` (default): the smallest threshold that still keeps ≥ ``keep`` (95 %) of the right
  pages that ``top_k`` retrieval finds without any cut. Answers come first because a refusal is
  final (the LLM never sees the question), while an uncovered question that slips through still
  meets the LLM's own "the material does not say" instruction;
* ``balanced``: the threshold that maximises right-kept + not-covered-rejected (equal weight to
  both classes; ties go to the larger threshold, which refuses fewer answerable questions).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from evaluation.runner import KEEP_ALL, Mode, QuestionRun

Rule = Literal["recall", "balanced"]
DEFAULT_KEEP = 0.95


def fmt_threshold(value: float) -> str:
    """``0.16``, ``0.165``; ``none`` for the no-cut point."""
    return "none" if value >= KEEP_ALL else f"{value:.3f}".rstrip("0").rstrip(".")


def threshold_grid(start: float = 0.06, stop: float = 0.30, step: float = 0.005) -> list[float]:
    count = round((stop - start) / step)
    return [round(start + i * step, 4) for i in range(count + 1)]


@dataclass(frozen=True)
class SweepPoint:
    mode: Mode
    top_k: int
    threshold: float
    right_kept: float  # answerable questions with a right page among the kept candidates
    answered: float  # answerable questions with anything kept (the rest are refused)
    rejected: float  # not-covered questions with nothing kept (correctly refused)

    @property
    def balanced(self) -> float:
        return self.right_kept + self.rejected


def sweep(
    runs: Sequence[QuestionRun], top_ks: Sequence[int], grid: Sequence[float]
) -> list[SweepPoint]:
    """All runs must be of one mode."""
    if not runs:
        return []
    mode = runs[0].mode
    covered = [r for r in runs if r.question.answerable]
    uncovered = [r for r in runs if not r.question.answerable]
    points = []
    for k in top_ks:
        # per question: the closest right chunk and the closest chunk of any kind in its top k
        right_at = [_closest(r, k, right_only=True) for r in covered]
        any_at = [_closest(r, k, right_only=False) for r in covered]
        none_at = [_closest(r, k, right_only=False) for r in uncovered]
        for cut in [*grid, KEEP_ALL]:
            right = sum(d <= cut for d in right_at)
            answered = sum(d <= cut for d in any_at)
            rejected = sum(d > cut for d in none_at)
            points.append(
                SweepPoint(
                    mode,
                    k,
                    cut,
                    right / len(covered) if covered else 0.0,
                    answered / len(covered) if covered else 0.0,
                    rejected / len(uncovered) if uncovered else 0.0,
                )
            )
    return points


def _closest(run: QuestionRun, k: int, right_only: bool) -> float:
    """The smallest distance in the top k (right pages only, if asked); inf when there is none."""
    return min(
        (
            h.distance
            for h in run.top(k)
            if not right_only or run.question.is_right(h.filename, h.page)
        ),
        default=math.inf,
    )


@dataclass(frozen=True)
class Recommendation:
    mode: Mode
    top_k: int
    rule: Rule
    threshold: float
    point: SweepPoint
    recall_pick: SweepPoint  # smallest cut keeping >= keep of the uncut right pages
    balanced_pick: SweepPoint  # max right_kept + rejected
    uncut: SweepPoint  # no threshold at all: the ceiling for right_kept
    keep: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "top_k": self.top_k,
            "rule": self.rule,
            "threshold": self.threshold,
            "keep": self.keep,
            "point": _point(self.point),
            "recall_pick": _point(self.recall_pick),
            "balanced_pick": _point(self.balanced_pick),
            "uncut": _point(self.uncut),
        }


def _point(p: SweepPoint) -> dict[str, Any]:
    return {**asdict(p), "balanced": p.balanced}


def recommend(
    points: Sequence[SweepPoint],
    mode: Mode,
    top_k: int,
    rule: Rule = "recall",
    keep: float = DEFAULT_KEEP,
) -> Recommendation:
    line = sorted(
        (p for p in points if p.mode == mode and p.top_k == top_k), key=lambda p: p.threshold
    )
    if not line:
        raise ValueError(f"no sweep points for mode={mode} top_k={top_k}")
    uncut = line[-1]  # KEEP_ALL sorts last
    grid = line[:-1] or line
    floor = keep * uncut.right_kept - 1e-9  # shares are ratios of small counts: allow for rounding
    recall = next((p for p in grid if p.right_kept >= floor), grid[-1])
    balanced = max(grid, key=lambda p: (round(p.balanced, 9), p.threshold))
    chosen = recall if rule == "recall" else balanced
    return Recommendation(
        mode, top_k, rule, chosen.threshold, chosen, recall, balanced, uncut, keep
    )


def at(points: Sequence[SweepPoint], mode: Mode, top_k: int, threshold: float) -> SweepPoint:
    """The sweep point nearest to ``threshold`` (e.g. the configured default)."""
    line = [p for p in points if p.mode == mode and p.top_k == top_k and p.threshold < KEEP_ALL]
    return min(line, key=lambda p: abs(p.threshold - threshold))
