"""The in-process BM25 as a retrieval leg of ``CourseRetriever`` (``app.rag.legs.Leg``).

Drop-in for the RediSearch ``LexicalLeg``: same name, same contract (ranked chunk ids of the
course the filters name), but per-course IDF, a length-normalised BM25 and Indonesian stemming
(docs/benchmarks.md, "Right page for student questions"). The chunk-type rule comes from the same
filters every leg gets: excluded types are taken from them, so the leg cannot drift from
``scope_filters``. Without a course (a socket bound to none) or while a course's index is still
being built, it returns nothing and the dense leg answers alone.
"""

from __future__ import annotations

from llama_index.core.schema import QueryBundle
from llama_index.core.vector_stores.types import FilterOperator, MetadataFilter, MetadataFilters

from app.core.schema import ChunkField
from app.rag.legs import Ranked
from app.rag.lexical_index import LexicalIndexCache


def course_of(filters: MetadataFilters) -> str | None:
    """The course id an equality condition of ``filters`` names (None when there is none)."""
    for item in filters.filters:
        if (
            isinstance(item, MetadataFilter)
            and item.key == ChunkField.COURSE_ID.value
            and item.operator == FilterOperator.EQ
        ):
            return str(item.value)
    return None


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
    how long a question waits for its course's first index build before going dense only."""

    name = "lexical"

    def __init__(self, cache: LexicalIndexCache, weight: float = 1.0, wait: float = 0.0) -> None:
        self._cache = cache
        self.weight = weight
        self._wait = wait

    async def search(self, query: QueryBundle, filters: MetadataFilters, k: int) -> list[Ranked]:
        course_id = course_of(filters)
        if course_id is None:
            return []
        index = await self._cache.ready(course_id, self._wait)
        if index is None:
            return []
        skip = excluded_types(filters)
        hits = index.search(query.query_str, k)
        return [
            Ranked(hit.node.node_id)
            for hit in hits
            if str(hit.node.metadata.get(ChunkField.CHUNK_TYPE.value, "")) not in skip
        ]
