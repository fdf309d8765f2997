"""The ways the chunk index is searched for one query: each returns a ranked list of chunk ids.

Dense search alone goes through LlamaIndex's ``RedisVectorStore`` and returns whole nodes (with
their distance). When lists are fused, every leg returns only ids — the dense leg with each chunk's
distance — and the few chunks that survive fusion are read afterwards in one pipelined read
(:meth:`ChunkIndex.load`), so a question never transfers and parses the text and LlamaIndex JSON of
the pool's twenty-odd nodes it will not use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from llama_index.core.schema import NodeWithScore, QueryBundle
from llama_index.core.vector_stores.types import MetadataFilters, VectorStoreQuery
from llama_index.core.vector_stores.utils import metadata_dict_to_node
from llama_index.vector_stores.redis import RedisVectorStore
from llama_index.vector_stores.redis.schema import NODE_CONTENT_FIELD_NAME as NODE_CONTENT
from redis.commands.search.query import Query
from redisvl.index import AsyncSearchIndex
from redisvl.query import VectorQuery

from app.core.schema import ChunkField
from app.rag.nodes import VECTOR_DISTANCE, note
from app.rag.scope import redis_filter
from app.rag.score_fusion import Fusion
from app.services.lexical import query_terms, text_clause


@dataclass(frozen=True)
class Ranked:
    """One entry of a leg's list: the chunk id, the node when the leg already has it, the cosine
    distance to the query when the leg measured it, and the leg's own score when it has one
    (cosine similarity, BM25) for score fusion."""

    node_id: str
    node: NodeWithScore | None = None
    distance: float | None = None
    score: float | None = None


def reported_distance(raw: str | float) -> float:
    """RediSearch's KNN distance as the dense leg reports it: through the vector store's
    similarity (``1 - d``, ``RedisVectorStore``), so both dense searches give the same float."""
    similarity = 1 - float(raw)
    return 1.0 - float(similarity)


class Leg(Protocol):
    """One search over the chunk index; ``name`` names its rank in the node metadata and
    ``weight`` is its list's weight in the reciprocal-rank fusion (dense = 1). ``at`` is the leg
    for one question whose courses' content versions are already read (a leg that reads none
    returns itself)."""

    name: str
    weight: float

    async def search(
        self, query: QueryBundle, filters: MetadataFilters, k: int
    ) -> list[Ranked]: ...

    def at(self, versions: Mapping[str, str]) -> Leg: ...


class DenseLeg:
    """Nearest chunks to the question's vector (``query.embedding``, computed once upstream)."""

    name = "dense"
    weight = 1.0

    def __init__(self, store: RedisVectorStore) -> None:
        self._store = store

    def at(self, versions: Mapping[str, str]) -> Leg:
        return self

    async def search(self, query: QueryBundle, filters: MetadataFilters, k: int) -> list[Ranked]:
        if query.embedding is None:
            raise ValueError("dense search needs the question's embedding in the QueryBundle")
        result = await self._store.aquery(
            VectorStoreQuery(query_embedding=query.embedding, similarity_top_k=k, filters=filters)
        )
        ranked = []
        for node, similarity in zip(result.nodes or [], result.similarities or [], strict=False):
            hit = NodeWithScore(node=node, score=float(similarity))
            note(hit, VECTOR_DISTANCE, 1.0 - float(similarity))
            ranked.append(Ranked(node.node_id, hit, score=float(similarity)))
        return ranked


class DenseRankLeg:
    """The dense leg of a fused search: the same KNN query as :class:`DenseLeg` (the vector store's
    filter, ``redis_filter``), but RediSearch returns each chunk's id and distance only."""

    name = "dense"
    weight = 1.0

    def __init__(self, index: AsyncSearchIndex) -> None:
        self._index = index
        self._key_start = len(index.prefix) + len(index.key_separator)

    def at(self, versions: Mapping[str, str]) -> Leg:
        return self

    async def search(self, query: QueryBundle, filters: MetadataFilters, k: int) -> list[Ranked]:
        if query.embedding is None:
            raise ValueError("dense search needs the question's embedding in the QueryBundle")
        request = VectorQuery(
            vector=query.embedding,
            vector_field_name=ChunkField.VECTOR.value,
            return_fields=[],  # the distance only (RediSearch always sends the key)
            filter_expression=redis_filter(filters),
            num_results=k,
        )
        docs = await self._index.query(request)
        ranked = []
        for doc in docs:
            raw = doc[VectorQuery.DISTANCE_ID]
            similarity = 1 - float(raw)  # the vector store's score, as DenseLeg reports it
            node_id = str(doc["id"])[self._key_start :]
            ranked.append(Ranked(node_id, distance=reported_distance(raw), score=similarity))
        return ranked


class LexicalLeg:
    """RediSearch BM25 over the chunk text, verbatim: the legacy lexical leg (``RAG_LEXICAL=
    redisearch``). Index-wide IDF, no length normalisation and the course tag scored as a term
    make it lose to the in-process leg (``app.rag.lexical_leg``; docs/benchmarks.md)."""

    name = "lexical"
    weight = 1.0

    def __init__(self, index: AsyncSearchIndex) -> None:
        self._index = index

    def at(self, versions: Mapping[str, str]) -> Leg:
        return self

    async def search(self, query: QueryBundle, filters: MetadataFilters, k: int) -> list[Ranked]:
        terms = query_terms(query.query_str)
        if not terms:
            return []
        scope = str(redis_filter(filters))
        clause = text_clause(terms) if scope == "*" else f"{scope} {text_clause(terms)}"
        request = Query(clause).scorer("BM25").verbatim().no_content().paging(0, k).dialect(2)
        result = await self._index.search(request)
        key_start = len(self._index.prefix) + len(self._index.key_separator)
        return [Ranked(doc.id[key_start:]) for doc in result.docs]  # doc.id is the Redis key


class ChunkIndex:
    """The chunk index behind the legs, for reading the chunks a leg named only by id.

    ``dense`` searches alone (whole nodes); :meth:`legs` are the lists of a fused search, whose
    dense leg names ids only. ``lexical`` is the lexical leg fused with the dense one (the server
    passes the in-process BM25 leg; without one, RediSearch's BM25 is used); ``fusion`` is how one
    query's lists are fused (``RAG_FUSION``: reciprocal ranks, or z-scored leg scores,
    ``app.rag.score_fusion``).
    """

    def __init__(
        self,
        store: RedisVectorStore,
        index: AsyncSearchIndex,
        lexical: Leg | None = None,
        fusion: Fusion = "rrf",
    ) -> None:
        self.store = store
        self.search_index = index
        self.fusion: Fusion = fusion
        self.dense: Leg = DenseLeg(store)
        ranked = DenseRankLeg(index)
        self._fused: list[Leg] = [ranked]
        self._hybrid: list[Leg] = [ranked, lexical or LexicalLeg(index)]

    def legs(self, lexical: bool, versions: Mapping[str, str] | None = None) -> list[Leg]:
        """The legs of a fused search: dense ids, and the lexical leg when ``lexical``; at the
        question's content ``versions`` when they were read."""
        legs = self._hybrid if lexical else self._fused
        return [leg.at(versions) for leg in legs] if versions else legs

    async def load(
        self, distances: Mapping[str, float | None], vector: Sequence[float]
    ) -> dict[str, NodeWithScore]:
        """The chunks with these ids, in one pipelined read, each with its cosine distance to
        ``vector``: the given one, else computed from the chunk's stored vector (read only then)."""
        client = self.search_index.client
        assert client is not None
        content = [NODE_CONTENT, ChunkField.TEXT.value]
        async with client.pipeline(transaction=False) as pipe:
            for node_id, known in distances.items():
                fields = content if known is not None else [*content, ChunkField.VECTOR.value]
                pipe.hmget(self.search_index.key(node_id), fields)
            rows = await pipe.execute()
        query = np.asarray(vector, dtype=np.float32)
        query /= np.linalg.norm(query) or 1.0
        out: dict[str, NodeWithScore] = {}
        for (node_id, known), row in zip(distances.items(), rows, strict=True):
            if row[0] is None:  # deleted since the search: not served
                continue
            node = metadata_dict_to_node({NODE_CONTENT: _text(row[0])})
            node.set_content(_text(row[1]))
            hit = NodeWithScore(node=node)
            if known is not None:
                note(hit, VECTOR_DISTANCE, known)
            elif row[2]:
                stored = np.frombuffer(row[2], dtype=np.float32)
                cos = float(stored @ query / (np.linalg.norm(stored) or 1.0))
                note(hit, VECTOR_DISTANCE, 1.0 - cos)
            out[node_id] = hit
        return out


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value
