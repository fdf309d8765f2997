"""The semantic cache as a stage of the turn: a prepared answer before the query engine runs, and
the engine's grounded answers stored after it.

An entry keeps the answer with the chunks it cites, restored as LlamaIndex nodes, so a cached
answer reaches the edge in the same shape as a fresh one. The cache is an optimisation: a Redis
failure on lookup answers fresh, on store keeps the answer, and neither fails the turn.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from llama_index.core.schema import NodeWithScore, TextNode
from redis.exceptions import RedisError

from app.rag.answer import Answer
from app.services.cache import AnswerCache, CachedAnswer, CacheScope
from app.services.question import Question

log = logging.getLogger(__name__)
CACHE_ERRORS = (RedisError, OSError, TimeoutError)
CANDIDATES = 4  # entries read per lookup: the closest may have been written in another mode
Accept = Callable[[Answer], bool]


class PreparedAnswers(Protocol):
    """A source of answers that exist before the query engine runs, asked in order.

    A lecturer's curated answers are one (asked first), the semantic cache another. ``name`` is
    the stage's lap in ``timings_ms``. ``accept`` says whether the turn may serve an answer (the
    engine would still write it the same way: same model, same prompt for its materials); a
    source returns its best accepted answer. A source fails open: when its backing store is down
    it answers ``None`` and the turn goes on.
    """

    name: str

    async def lookup(
        self, question: Question, scope: CacheScope, accept: Accept
    ) -> Answer | None: ...


class CachedAnswers:
    name = "cache"

    def __init__(self, cache: AnswerCache, threshold: float) -> None:
        self._cache = cache
        self._threshold = threshold  # reported for entries that predate storing it

    async def lookup(self, question: Question, scope: CacheScope, accept: Accept) -> Answer | None:
        try:
            hits = await self._cache.candidates(list(question.embedding), scope, limit=CANDIDATES)
        except CACHE_ERRORS as exc:
            log.warning("semantic cache lookup failed, answering fresh: %s", type(exc).__name__)
            return None
        for hit in hits:
            answer = self._answer(hit)
            if accept(answer):
                return answer
            log.debug("cache entry %s not served: written by %s", hit.key, hit.generator)
        return None

    def _answer(self, hit: CachedAnswer) -> Answer:
        meta = hit.metadata
        return Answer(
            hit.response,
            "cache",
            float(meta.get("threshold", self._threshold)),
            nodes=tuple(restore_node(item) for item in meta.get("nodes", [])),
            retrieved=int(meta.get("documents_retrieved", 0)),
            used=int(meta.get("documents_used", 0)),
            model=meta.get("model"),
            cache_distance=round(hit.distance, 4),
            generator=hit.generator,  # "" for an entry that does not say: never current
            cache_key=hit.key or None,
        )

    async def store(self, question: Question, scope: CacheScope, answer: Answer) -> str | None:
        """Keep a grounded answer for the next student who asks the same; its entry's key, or
        None if it was not kept."""
        if not answer.grounded or answer.generator is None:
            return None
        metadata = {
            "nodes": [stored_node(n) for n in answer.nodes],
            "model": answer.model,
            "threshold": answer.threshold,
            "documents_retrieved": answer.retrieved,
            "documents_used": answer.used,
        }
        try:
            return await self._cache.store(
                question.text,
                answer.text,
                list(question.embedding),
                scope,
                metadata,
                answer.generator,
            )
        except CACHE_ERRORS as exc:  # the answer stands; caching is optional
            log.warning("semantic cache store failed: %s", type(exc).__name__)
            return None


def stored_node(node: NodeWithScore) -> dict[str, Any]:
    """A cited chunk as the cache keeps it: its id, text and metadata (retrieval facts included).

    Not the whole serialized node: a hit restores up to five of these before the answer goes out,
    and this form is read in a third of the time.
    """
    inner = node.node
    return {
        "id": inner.node_id,
        "text": inner.get_content(),
        "metadata": inner.metadata,
        "hidden_llm": inner.excluded_llm_metadata_keys,
        "hidden_embed": inner.excluded_embed_metadata_keys,
        "score": node.score,
    }


def restore_node(item: dict[str, Any]) -> NodeWithScore:
    node = TextNode(
        id_=item["id"],
        text=item["text"],
        metadata=item["metadata"],
        excluded_llm_metadata_keys=list(item.get("hidden_llm", [])),
        excluded_embed_metadata_keys=list(item.get("hidden_embed", [])),
    )
    return NodeWithScore(node=node, score=item.get("score"))
