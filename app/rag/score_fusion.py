"""Fusing one query's ranked lists by their scores (``RAG_FUSION=zscore``).

Reciprocal-rank fusion throws the scores away: a chunk ranked first by a wide margin and one that
barely won count the same, and the lexical weight alone decides every tie between the two legs'
first places. Here each list's own scores (cosine similarity for dense, BM25 for lexical) are
turned into z-scores over all the chunks any list holds — so the two scales meet — weighted by the
list's weight and added. A chunk a list does not hold gets that list's floor: 0 when the list is
shorter than the pool it was asked for (the leg listed every chunk it scores at all: BM25 matched
no word of the question in the others), else the list's lowest score (it ranked below everything
the list kept; nothing more is read to know by how much). The floor is what keeps a rare exact
term strong: a BM25 list of one hit is that hit far above every other chunk. Measured against RRF
in docs/benchmarks.md ("Ranking after fusion").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Fusion = Literal["rrf", "zscore"]


@dataclass(frozen=True)
class ScoredList:
    """One leg's list for one query: (chunk id, the leg's score) best first, its weight, and the
    score of a chunk it does not hold (``None``: its lowest score)."""

    weight: float
    items: Sequence[tuple[str, float]]
    floor: float | None = None


def zscores(values: Sequence[float]) -> list[float]:
    """``values`` minus their mean, over their standard deviation (all 0 when they are equal)."""
    mean = sum(values) / len(values)
    spread = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    if spread == 0.0:
        return [0.0] * len(values)
    return [(v - mean) / spread for v in values]


def zscore_fuse(lists: Sequence[ScoredList]) -> dict[str, float]:
    """Every chunk of any list with its fused score (in first-seen order; sort to rank)."""
    kept = [item for item in lists if item.items]
    union = list(dict.fromkeys(node_id for item in kept for node_id, _ in item.items))
    fused = dict.fromkeys(union, 0.0)
    for item in kept:
        scores = dict(item.items)
        floor = min(scores.values()) if item.floor is None else item.floor
        z = zscores([scores.get(node_id, floor) for node_id in union])
        for node_id, value in zip(union, z, strict=True):
            fused[node_id] += item.weight * value
    return fused
