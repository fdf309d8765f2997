"""The course-scoped retriever: a LlamaIndex ``BaseRetriever`` over the chunk index.

One retriever is built per question, bound to that question's :class:`CourseScope` (the way
LlamaIndex retrievers take their filters at construction), so nothing can ask it for chunks
outside the course. It embeds nothing: the question's vector arrives in ``QueryBundle.embedding``
(computed once, while history loads) and is reused by every leg, as LlamaIndex's own vector
retriever does when the bundle carries one.

Dense search alone returns its top k. With more than one list — the lexical leg (per-course
BM25, ``RAG_LEXICAL``), or extra queries from a :class:`QueryExpander` (e.g. the question in the
material's language) — every list is searched with a fixed pool, each query's legs are fused by
weighted reciprocal rank or by their z-scored scores (``RAG_FUSION``; the lexical leg weighs
``RAG_LEXICAL_WEIGHT``), and the queries' fused lists are fused again by reciprocal rank with equal
weights: the recipe measured in docs/benchmarks.md ("Right page for student questions"). The fused
lists name ids only (the dense one with each chunk's distance and similarity); the ``top_k``
chunks that survive fusion are read afterwards in one pipelined read, a chunk only a lexical list
found with its distance computed from its stored vector.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle

from app.rag.legs import ChunkIndex, Ranked
from app.rag.nodes import note, rank_key
from app.rag.scope import CourseScope, scope_filters
from app.rag.score_fusion import ScoredList, zscore_fuse

RRF_K = 60
HYBRID_POOL = 20  # candidates from each list before fusion; fixed, so a larger k never reorders


class QueryExpander(Protocol):
    """More queries for the same question, searched with every leg and fused with the first.

    Cross-lingual search plugs in here: return the question in the material's language, with its
    embedding. Each extra query's ranks are recorded as ``<leg><n>_rank`` (n = 1, 2, ...). The
    expander bounds its own calls; the retrieval timeout covers the index searches only (the
    searches together, then the read of chunks only the lexical leg found, each on its own).
    """

    async def expand(self, query: QueryBundle, scope: CourseScope) -> Sequence[QueryBundle]: ...


@dataclass
class _Fused:
    node: NodeWithScore | None
    distance: float | None = None
    ranks: dict[str, int] = field(default_factory=dict)
    score: float = 0.0


@dataclass(frozen=True)
class _List:
    query: int  # which query (0: as asked, 1...: the expander's)
    key: str  # the metadata key of its ranks, e.g. "lexical_rank", "dense1_rank"
    weight: float
    ranked: list[Ranked]


def _rrf(items: list[tuple[str, float]]) -> dict[str, float]:
    """Weighted reciprocal-rank scores of (id, weight) pairs, in first-seen order."""
    scores: dict[str, float] = {}
    for node_id, gain in items:
        scores[node_id] = scores.get(node_id, 0.0) + gain
    return scores


class CourseRetriever(BaseRetriever):
    """Chunks of one course for one question, best first, at most ``top_k``."""

    def __init__(
        self,
        chunks: ChunkIndex,
        scope: CourseScope,
        top_k: int,
        hybrid: bool,
        timeout: float,
        expander: QueryExpander | None = None,
        pool: int = HYBRID_POOL,
    ) -> None:
        super().__init__()
        self._chunks = chunks
        self._scope = scope
        self._filters = scope_filters(scope)
        self._top_k = top_k
        self._legs = chunks.legs(lexical=hybrid, versions=scope.versions)
        self._timeout = timeout
        self._expander = expander
        self._pool = pool

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        raise NotImplementedError("CourseRetriever is async only: use aretrieve()")

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return await self.aretrieve_uninstrumented(query_bundle)

    async def aretrieve_uninstrumented(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        """``aretrieve`` without LlamaIndex's instrumentation span and events.

        They cost more Python time per question than the retrieval's own work (a signature bind,
        uuids and pydantic event models around a 384-float query), and nothing here listens to
        them; the query engine calls this. ``aretrieve`` stays the interface for everyone else.
        """
        if query_bundle.embedding is None:
            raise ValueError("CourseRetriever needs the question's embedding in the QueryBundle")
        queries = [query_bundle]
        if self._expander is not None:  # it bounds its own calls (an LLM may translate)
            queries += await self._expander.expand(query_bundle, self._scope)
        # Each Redis step gets the whole timeout of its own: the in-process work between them
        # (fusion, and the lexical leg's BM25 search) is not Redis being slow, and on a starved
        # event loop it can take seconds that would otherwise count against the later read.
        if len(queries) == 1 and len(self._legs) == 1:
            async with asyncio.timeout(self._timeout):
                ranked = await self._chunks.dense.search(query_bundle, self._filters, self._top_k)
            return self._only(ranked)
        pool = max(self._pool, self._top_k)
        searches = [(n, leg, q) for n, q in enumerate(queries) for leg in self._legs]
        async with asyncio.timeout(self._timeout):
            found = await asyncio.gather(
                *(leg.search(q, self._filters, pool) for _, leg, q in searches)
            )
        lists = [
            _List(n, rank_key(f"{leg.name}{n or ''}"), leg.weight, ranked)
            for (n, leg, _), ranked in zip(searches, found, strict=True)
        ]
        return await self._fuse(lists, len(queries), query_bundle.embedding, pool)

    def _only(self, ranked: list[Ranked]) -> list[NodeWithScore]:
        key = rank_key(self._chunks.dense.name)
        out = []
        for position, item in enumerate(ranked, 1):
            assert item.node is not None  # the dense leg returns whole nodes
            note(item.node, key, position)
            out.append(item.node)
        return out

    def _fuse_query(self, lists: list[_List], pool: int) -> dict[str, float]:
        """One query's legs as one scored list: by their scores when the chunk index fuses
        z-scores and every leg scored its hits, else by weighted reciprocal rank. A list shorter
        than ``pool`` holds every chunk its leg scores: the others score 0 in it."""
        if self._chunks.fusion == "zscore" and all(
            hit.score is not None for item in lists for hit in item.ranked
        ):
            scored = [
                ScoredList(
                    item.weight,
                    [(hit.node_id, hit.score or 0.0) for hit in item.ranked],
                    0.0 if len(item.ranked) < pool else None,
                )
                for item in lists
            ]
            return zscore_fuse(scored)
        return _rrf(
            [
                (hit.node_id, item.weight / (RRF_K + position))
                for item in lists
                for position, hit in enumerate(item.ranked, 1)
            ]
        )

    async def _fuse(
        self, lists: list[_List], queries: int, vector: Sequence[float], pool: int
    ) -> list[NodeWithScore]:
        merged: dict[str, _Fused] = {}
        for item in lists:
            for position, hit in enumerate(item.ranked, 1):
                entry = merged.setdefault(hit.node_id, _Fused(hit.node, hit.distance))
                entry.ranks.setdefault(item.key, position)
                if entry.node is None:
                    entry.node = hit.node
                if entry.distance is None:  # the first dense list's, as asked or translated
                    entry.distance = hit.distance
        # each query's legs (weighted RRF or z-scores), then the queries' lists by equal-weight RRF
        per_query = [
            self._fuse_query([item for item in lists if item.query == n], pool)
            for n in range(queries)
        ]
        if queries == 1:
            final = per_query[0]
        else:
            final = _rrf(
                [
                    (node_id, 1.0 / (RRF_K + position))
                    for scores in per_query
                    for position, (node_id, _) in enumerate(
                        sorted(scores.items(), key=lambda kv: kv[1], reverse=True), 1
                    )
                ]
            )
        for node_id, score in final.items():
            merged[node_id].score = score
        order = sorted(final, key=lambda node_id: final[node_id], reverse=True)
        top = order[: self._top_k]
        missing = {i: merged[i].distance for i in top if merged[i].node is None}
        loaded: dict[str, NodeWithScore] = {}
        if missing:
            async with asyncio.timeout(self._timeout):
                loaded = await self._chunks.load(missing, vector)
        out = []
        for node_id in top:
            entry = merged[node_id]
            node = entry.node or loaded.get(node_id)
            if node is None:
                continue
            node.score = entry.score
            for key, position in entry.ranks.items():
                note(node, key, position)
            out.append(node)
        return out
