"""The in-process BM25 as a retrieval leg of ``CourseRetriever`` (``app.rag.legs.Leg``).

Drop-in for the RediSearch ``LexicalLeg``: same name, same contract (ranked chunk ids of the
course the filters name), but per-course IDF, a length-normalised BM25 and Indonesian stemming
(docs/benchmarks.md, "Right page for student questions"). The chunk-type rule comes from the same
filters every leg gets: excluded types are taken from them, so the leg cannot drift from
``scope_filters``. A course set (a token's courses) searches each course's index and keeps the
best scores; without a course (a socket bound to none) or while an index is still being built, that
course adds nothing and the dense leg answers alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from llama_index.core.schema import NodeWithScore, QueryBundle
from llama_index.core.vector_stores.types import FilterOperator, MetadataFilter, MetadataFilters

from app.core.schema import ChunkField
from app.rag.legs import Ranked
from app.rag.lexical_index import LexicalIndexCache


def courses_of(filters: MetadataFilters) -> list[str]:
    """The course ids the course condition of ``filters`` names: one (``EQ``), a set (``IN``), or
    none (no course condition: this leg then searches nothing, never every course)."""
    for item in filters.filters:
        if not isinstance(item, MetadataFilter) or item.key != ChunkField.COURSE_ID.value:
            continue
        if item.operator == FilterOperator.EQ:
            return [str(item.value)]
        if item.operator == FilterOperator.IN and isinstance(item.value, list):
            return sorted({str(value) for value in item.value})
    return []


def excluded_types(filters: MetadataFilters) -> frozenset[str]:
    return frozenset(
        str(item.value)
        for item in filters.filters
        if isinstance(item, MetadataFilter)
        and item.key == ChunkField.CHUNK_TYPE.value
        and item.operator == FilterOperator.NE
    )


class InProcessLexicalLeg:
    """Per-course BM25 (``LexicalIndexCache``); ``weight`` is its RRF weight (dense = 1), ``wait``
    how long a question waits for its course's first index build before going dense only.
    ``versions`` are the courses' content versions already read for this question (:meth:`at`);
    a course's index is looked up at that version, others read theirs."""

    name = "lexical"

    def __init__(
        self,
        cache: LexicalIndexCache,
        weight: float = 1.0,
        wait: float = 0.0,
        versions: Mapping[str, str] | None = None,
    ) -> None:
        self._cache = cache
        self.weight = weight
        self._wait = wait
        self._versions: Mapping[str, str] = versions or {}

    def at(self, versions: Mapping[str, str]) -> InProcessLexicalLeg:
        return InProcessLexicalLeg(self._cache, self.weight, self._wait, versions)

    async def search(self, query: QueryBundle, filters: MetadataFilters, k: int) -> list[Ranked]:
        courses = courses_of(filters)
        if not courses:
            return []
        indexes = await asyncio.gather(
            *(self._cache.ready(c, self._wait, self._versions.get(c)) for c in courses)
        )
        hits: list[NodeWithScore] = []
        for index in indexes:
            if index is not None:
                hits.extend(index.search(query.query_str, k))
        if len(indexes) > 1:  # each course ranks its own; keep the best k of all of them
            hits = sorted(hits, key=lambda hit: hit.score or 0.0, reverse=True)[:k]
        skip = excluded_types(filters)
        return [
            Ranked(hit.node.node_id, score=hit.score)
            for hit in hits
            if str(hit.node.metadata.get(ChunkField.CHUNK_TYPE.value, "")) not in skip
        ]
