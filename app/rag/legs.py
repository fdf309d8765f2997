"""The ways the chunk index is searched for one query: each returns a ranked list of chunk ids.

Dense search goes through LlamaIndex's ``RedisVectorStore`` and returns whole nodes (with their
distance). Lexical search is RediSearch BM25 over the same chunks and returns only ids: most of its
hits are also dense hits, and the few that are not and survive fusion are read afterwards
(:meth:`ChunkIndex.load`), so a question never pays for parsing twenty nodes it will not use.
"""

from __future__ import annotations

from collections.abc import Sequence
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

from app.core.schema import ChunkField
from app.rag.nodes import VECTOR_DISTANCE, note
from app.rag.scope import redis_filter
from app.rag.score_fusion import Fusion
from app.services.lexical import query_terms, text_clause


@dataclass(frozen=True)
class Ranked:
    """One entry of a leg's list: the chunk id, the node when the leg already has it, and the
    leg's own score when it has one (cosine similarity, BM25) for score fusion."""

    node_id: str
    node: NodeWithScore | None = None
    score: float | None = None


class Leg(Protocol):
    """One search over the chunk index; ``name`` names its rank in the node metadata and
    ``weight`` is its list's weight in the reciprocal-rank fusion (dense = 1)."""

    name: str
    weight: float

    async def search(
        self, query: QueryBundle, filters: MetadataFilters, k: int
    ) -> list[Ranked]: ...


class DenseLeg:
    """Nearest chunks to the question's vector (``query.embedding``, computed once upstream)."""

    name = "dense"
    weight = 1.0

    def __init__(self, store: RedisVectorStore) -> None:
        self._store = store

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
            ranked.append(Ranked(node.node_id, hit, float(similarity)))
        return ranked


class LexicalLeg:
    """RediSearch BM25 over the chunk text, verbatim: the legacy lexical leg (``RAG_LEXICAL=
    redisearch``). Index-wide IDF, no length normalisation and the course tag scored as a term
    make it lose to the in-process leg (``app.rag.lexical_leg``; docs/benchmarks.md)."""

    name = "lexical"
    weight = 1.0

    def __init__(self, index: AsyncSearchIndex) -> None:
        self._index = index

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

    ``lexical`` is the lexical leg fused with the dense one (the server passes the in-process
    BM25 leg; without one, RediSearch's BM25 is used); ``fusion`` is how one query's lists are
    fused (``RAG_FUSION``: reciprocal ranks, or z-scored leg scores, ``app.rag.score_fusion``).
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
        self._dense: list[Leg] = [DenseLeg(store)]
        self._hybrid: list[Leg] = [*self._dense, lexical or LexicalLeg(index)]

    def legs(self, lexical: bool) -> list[Leg]:
        return self._hybrid if lexical else self._dense

    async def load(
        self, node_ids: Sequence[str], vector: Sequence[float]
    ) -> dict[str, NodeWithScore]:
        """The chunks with these ids, each with its cosine distance to ``vector``."""
        client = self.search_index.client
        assert client is not None
        fields = (NODE_CONTENT, ChunkField.TEXT.value, ChunkField.VECTOR.value)
        async with client.pipeline(transaction=False) as pipe:
            for node_id in node_ids:
                pipe.hmget(self.search_index.key(node_id), list(fields))
            rows = await pipe.execute()
        query = np.asarray(vector, dtype=np.float32)
        query /= np.linalg.norm(query) or 1.0
        out: dict[str, NodeWithScore] = {}
        for node_id, (content, text, blob) in zip(node_ids, rows, strict=True):
            if content is None:  # deleted since the search: not served
                continue
            node = metadata_dict_to_node({NODE_CONTENT: _text(content)})
            node.set_content(_text(text))
            hit = NodeWithScore(node=node)
            if blob:
                stored = np.frombuffer(blob, dtype=np.float32)
                cos = float(stored @ query / (np.linalg.norm(stored) or 1.0))
                note(hit, VECTOR_DISTANCE, 1.0 - cos)
            out[node_id] = hit
        return out


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value
