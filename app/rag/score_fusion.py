"""Fusing one query's ranked lists by their scores (``RAG_FUSION=zscore``).

Reciprocal-rank fusion throws the scores away: a chunk ranked first by a wide margin and one that
barely won count the same, and when the lexical leg matches only the question's filler words its
first places still outweigh a clear dense winner. Here each list's own scores (cosine similarity
for dense, BM25 for lexical) are turned into z-scores over that list — so the two scales meet —
weighted by the list's weight and added. A chunk a list did not return gets that list's lowest
z-score: it ranked below everything the list kept, and nothing more is read to know by how much.
Measured against RRF in docs/benchmarks.md ("Score fusion instead of reciprocal ranks").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Fusion = Literal["rrf", "zscore"]


@dataclass(frozen=True)
class ScoredList:
    """One leg's list for one query: (chunk id, the leg's score) best first, and its weight."""

    weight: float
    items: Sequence[tuple[str, float]]


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
    per_list: list[tuple[float, dict[str, float], float]] = []
    for item in kept:
        z = zscores([score for _, score in item.items])
        by_id = dict(zip((node_id for node_id, _ in item.items), z, strict=True))
        per_list.append((item.weight, by_id, min(z)))
    fused: dict[str, float] = {}
    for item in kept:
        for node_id, _ in item.items:
            fused.setdefault(node_id, 0.0)
    for node_id in fused:
        fused[node_id] = sum(w * z.get(node_id, floor) for w, z, floor in per_list)
    return fused
