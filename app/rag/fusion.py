"""Reciprocal-rank fusion of ranked lists (dense, lexical, translated question, ...).

Ranks, not scores, are fused: a cosine similarity and a BM25 score live on different scales, and
e5's cosine distances crowd into .07–.18, so any score normalisation would be fitted to noise.
Each list can carry a weight; ``k`` damps the head (60 is the usual constant, measured in
docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

from llama_index.core.schema import NodeWithScore

K = TypeVar("K", bound=Hashable)
RRF_K = 60


def rrf(
    lists: Sequence[Sequence[K]], weights: Sequence[float] | None = None, k: int = RRF_K
) -> list[tuple[K, float]]:
    """Items of all lists by fused score, best first; ties keep first-seen order."""
    weights = weights or [1.0] * len(lists)
    if len(weights) != len(lists):
        raise ValueError("one weight per list")
    scores: dict[K, float] = {}
    for items, weight in zip(lists, weights, strict=True):
        for rank, item in enumerate(items, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda kv: kv[1], reverse=True)


def fuse_nodes(
    lists: Sequence[Sequence[NodeWithScore]],
    weights: Sequence[float] | None = None,
    k: int = RRF_K,
) -> list[NodeWithScore]:
    """Nodes of all lists by fused score (the node object first seen for an id is kept)."""
    first: dict[str, NodeWithScore] = {}
    for nodes in lists:
        for n in nodes:
            first.setdefault(n.node.node_id, n)
    fused = rrf([[n.node.node_id for n in nodes] for nodes in lists], weights, k)
    return [NodeWithScore(node=first[node_id].node, score=score) for node_id, score in fused]
