"""Find the course pages that answer a question: dense vectors, optionally fused with BM25.

Dense retrieval (the LlamaIndex Redis vector store, filtered by course) handles paraphrases; BM25
over the same chunks (RediSearch full text) catches exact terms such as names, commands and
acronyms that a small embedding model blurs. Reciprocal-rank fusion combines the two lists. Every
candidate carries its cosine distance to the question, because "is this covered at all?" is
decided on distance (see ``RAG_DISTANCE_THRESHOLD``).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from llama_index.core.vector_stores.types import (
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
)
from llama_index.vector_stores.redis import RedisVectorStore
from redis.commands.search.query import Query
from redisvl.index import AsyncSearchIndex

from app.core.schema import ChunkField
from app.services.lexical import query_terms, redis_text_query

log = logging.getLogger(__name__)
RRF_K = 60
HYBRID_POOL = 20  # candidates from each leg before fusion; fixed, so a larger k never reorders
UNKNOWN_DISTANCE = 2.0  # the largest cosine distance; replaced by the real one after fusion
NOT_ANSWERS = ("toc", "index")  # tables of contents and book indexes name terms, never explain them


@dataclass(frozen=True)
class RetrievedChunk:
    node_id: str
    text: str
    course_id: str
    material_id: str
    filename: str
    title: str
    page: int
    page_label: str
    position: int
    chunk_type: str
    distance: float  # cosine distance to the question (0 = same direction)
    dense_rank: int | None = None
    lexical_rank: int | None = None
    fused: float = 0.0
    ocr: bool = False  # the page was read by OCR from a scan
    ocr_confidence: float | None = None

    @property
    def similarity(self) -> float:
        return max(0.0, min(1.0, 1.0 - self.distance))

    @property
    def page_ref(self) -> str:
        """The protocol's "page with decimal precision": ``<label>.<position on the page>``."""
        return f"{self.page_label}.{self.position}"


@dataclass(frozen=True)
class Retrieval:
    candidates: list[RetrievedChunk]  # fused, best first, at most top_k
    kept: list[RetrievedChunk]  # the candidates within the distance threshold
    threshold: float


def _chunk(fields: dict[str, Any], text: str, distance: float, **ranks: Any) -> RetrievedChunk:
    def get(name: str, default: str = "") -> str:
        value = fields.get(name, default)
        return value.decode() if isinstance(value, bytes) else str(value)

    ocr = get("ocr", "0") not in ("", "0", "False", "false")

    return RetrievedChunk(
        node_id=get(ChunkField.ID.value),
        text=text,
        course_id=get("course_id"),
        material_id=get("material_id"),
        filename=get("filename"),
        title=get("title"),
        page=int(float(get("page", "0") or 0)),
        page_label=get("page_label") or get("page", "0"),
        position=int(float(get("position", "1") or 1)),
        chunk_type=get("chunk_type", "text"),
        distance=distance,
        **ranks,
        ocr=ocr,
        ocr_confidence=float(get("ocr_confidence", "0") or 0) if ocr else None,
    )


class Retriever:
    """Course-filtered retrieval over one embedding model's chunk index."""

    def __init__(
        self,
        store: RedisVectorStore,
        index: AsyncSearchIndex,
        top_k: int,
        threshold: float,
        hybrid: bool,
        timeout: float,
    ) -> None:
        self._store = store
        self._index = index
        self._top_k = top_k
        self._threshold = threshold
        self._hybrid = hybrid
        self._timeout = timeout

    @property
    def threshold(self) -> float:
        return self._threshold

    async def retrieve(
        self,
        vector: list[float],
        question: str,
        course_id: str | None,
        top_k: int | None = None,
        threshold: float | None = None,
        hybrid: bool | None = None,
    ) -> Retrieval:
        k = top_k or self._top_k
        cut = self._threshold if threshold is None else threshold
        use_hybrid = self._hybrid if hybrid is None else hybrid
        async with asyncio.timeout(self._timeout):
            if use_hybrid:
                pool = max(HYBRID_POOL, k)
                dense, lexical = await asyncio.gather(
                    self._dense(vector, course_id, pool), self._lexical(question, course_id, pool)
                )
                candidates = await self._fuse(dense, lexical, vector, k)
            else:
                candidates = await self._dense(vector, course_id, k)
        kept = [c for c in candidates if c.distance <= cut]
        return Retrieval(candidates, kept, cut)

    async def _dense(
        self, vector: list[float], course_id: str | None, k: int
    ) -> list[RetrievedChunk]:
        conditions = [
            MetadataFilter(key=ChunkField.CHUNK_TYPE.value, value=kind, operator=FilterOperator.NE)
            for kind in NOT_ANSWERS
        ]
        if course_id is not None:
            conditions.append(MetadataFilter(key=ChunkField.COURSE_ID.value, value=course_id))
        filters = MetadataFilters(filters=conditions)
        result = await self._store.aquery(
            VectorStoreQuery(query_embedding=vector, similarity_top_k=k, filters=filters)
        )
        similarities = result.similarities or []
        chunks = []
        for rank, (node, similarity) in enumerate(
            zip(result.nodes or [], similarities, strict=False)
        ):
            fields = {**node.metadata, ChunkField.ID.value: node.node_id}
            chunks.append(
                _chunk(fields, node.get_content(), 1.0 - float(similarity), dense_rank=rank + 1)
            )
        return chunks

    async def _lexical(self, question: str, course_id: str | None, k: int) -> list[RetrievedChunk]:
        terms = query_terms(question)
        if not terms:
            return []
        query = (
            Query(redis_text_query(terms, course_id))
            .scorer("BM25")
            .verbatim()
            .paging(0, k)
            .return_fields(
                *[f.value for f in ChunkField if f is not ChunkField.VECTOR],
                *("title", "ocr", "ocr_confidence"),
            )
            .dialect(2)
        )
        result = await self._index.search(query)
        key_start = len(self._index.prefix) + len(self._index.key_separator)
        chunks = []
        for rank, doc in enumerate(result.docs):
            fields = {**doc.__dict__, ChunkField.ID.value: doc.id[key_start:]}  # doc.id is the key
            text = str(fields.get(ChunkField.TEXT.value, ""))
            chunks.append(_chunk(fields, text, UNKNOWN_DISTANCE, lexical_rank=rank + 1))
        return chunks

    async def _fuse(
        self,
        dense: list[RetrievedChunk],
        lexical: list[RetrievedChunk],
        vector: list[float],
        k: int,
    ) -> list[RetrievedChunk]:
        merged: dict[str, RetrievedChunk] = {c.node_id: c for c in dense}
        for chunk in lexical:
            known = merged.get(chunk.node_id)
            merged[chunk.node_id] = (
                replace(known, lexical_rank=chunk.lexical_rank) if known else chunk
            )
        scored = []
        for chunk in merged.values():
            score = sum(1.0 / (RRF_K + r) for r in (chunk.dense_rank, chunk.lexical_rank) if r)
            scored.append(replace(chunk, fused=score))
        scored.sort(key=lambda c: c.fused, reverse=True)
        top = scored[:k]
        missing = [c for c in top if c.dense_rank is None]
        if missing:
            distances = await self._distances(vector, [c.node_id for c in missing])
            top = [replace(c, distance=distances.get(c.node_id, c.distance)) for c in top]
        return top

    async def _distances(self, vector: list[float], node_ids: list[str]) -> dict[str, float]:
        """Cosine distances for lexical-only hits, from their stored vectors."""
        client = self._index.client
        assert client is not None
        async with client.pipeline(transaction=False) as pipe:
            for node_id in node_ids:
                pipe.hget(self._index.key(node_id), ChunkField.VECTOR.value)
            blobs = await pipe.execute()
        query = np.asarray(vector, dtype=np.float32)
        query /= np.linalg.norm(query) or 1.0
        out: dict[str, float] = {}
        for node_id, blob in zip(node_ids, blobs, strict=True):
            if blob:
                stored = np.frombuffer(blob, dtype=np.float32)
                cos = float(stored @ query / (np.linalg.norm(stored) or 1.0))
                out[node_id] = 1.0 - cos
        return out
