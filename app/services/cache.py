"""Semantic answer cache (RedisVL ``SemanticCache``), scoped so it can never serve a wrong answer.

An entry is only a hit for the same course scope (the same course, or exactly the same set of
courses for a student asking across their courses: an answer drawn from courses A and B is never
served to someone who may read A only), the same content version of that course (re-ingesting
changed material makes old entries unreachable at once), the same answer language, the same page
context (the PDF page the student has open, or none) and one of the generators the turn accepts
(answer model + prompt version: a new model or prompt never serves old answers; each entry keeps
the one that wrote it, so direct and guided answers stay apart). Only grounded, unpersonalized
answers are stored; the caller enforces that.

The cache only ever saves time, so it fails open: when its index is gone (a flushed or replaced
cache Redis), RedisVL raises ``RedisSearchError``; the lookup is then a miss, and the index is
created again (rate-limited), after which RediSearch indexes the entries still stored.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import redis
from llama_index.core.base.embeddings.base import BaseEmbedding
from redisvl.exceptions import RedisSearchError
from redisvl.extensions.llmcache import SemanticCache
from redisvl.query.filter import Tag
from redisvl.utils.vectorize import CustomTextVectorizer

from app.observability.metrics import Metrics

log = logging.getLogger(__name__)
RECREATE_INTERVAL_S = 5.0

ALL_COURSES = "__all__"
COURSE_SET_SEP = "+"  # never in a course id
MAX_READABLE_SET = 200  # longer course sets are tagged by their hash
NO_PAGE_CONTEXT = "none"  # a tag value: RedisVL reads an empty one as "match anything"
SCHEMA_VERSION = "v3"  # bump when the filterable fields change (RedisVL refuses a changed schema)
EXACT = 1e-9  # RedisVL treats a threshold of 0 as "use the default"


def page_context_tag(material_id: str | None, page: int | None) -> str:
    """The page context as the cache scopes it: the open material and page, or none."""
    return f"{material_id}:{page or 0}" if material_id else NO_PAGE_CONTEXT


def course_scope_tag(course_ids: frozenset[str] | None) -> str:
    """The cache's tag for a course scope: the course, the sorted set of courses, or all."""
    if course_ids is None:
        return ALL_COURSES
    if not course_ids:
        raise ValueError("an empty course set has no cache scope")
    joined = COURSE_SET_SEP.join(sorted(course_ids))
    if len(joined) <= MAX_READABLE_SET:
        return joined
    return COURSE_SET_SEP + hashlib.sha256(joined.encode()).hexdigest()[:32]


def is_course_set_tag(tag: str) -> bool:
    """A tag of several courses (or of every course), rather than of one."""
    return tag == ALL_COURSES or COURSE_SET_SEP in tag


@dataclass(frozen=True)
class CacheScope:
    course_ids: frozenset[str] | None  # None: every course
    content_version: str
    language: str
    generators: tuple[str, ...]  # a hit may have been written by any of these
    page_context: str = NO_PAGE_CONTEXT

    @property
    def course_tag(self) -> str:
        return course_scope_tag(self.course_ids)

    def filters(self, generator: str) -> dict[str, str]:
        """The tags of an entry written by ``generator`` in this scope."""
        return {
            "course_scope": self.course_tag,
            "content_version": self.content_version,
            "language": self.language,
            "generator": generator,
            "page_context": self.page_context,
        }


@dataclass(frozen=True)
class CachedAnswer:
    prompt: str
    response: str
    distance: float
    metadata: dict[str, Any]
    key: str = ""  # the entry's Redis key: a turn records it, a downvote holds it for review
    generator: str = ""  # what wrote it (model and prompt version)


def _entry(hit: dict[str, Any]) -> CachedAnswer:
    metadata = hit.get("metadata") or {}
    if isinstance(metadata, str):
        metadata = json.loads(metadata)
    return CachedAnswer(
        str(hit["prompt"]),
        str(hit["response"]),
        float(hit["vector_distance"]),
        metadata,
        str(hit.get("key") or ""),
        str(hit.get("generator") or ""),
    )


def build_semantic_cache(
    client: redis.Redis,
    embedding: BaseEmbedding,
    name: str,
    threshold: float,
    ttl_seconds: int,
) -> SemanticCache:
    """Create (or attach to) the cache index; blocking, so call it via ``asyncio.to_thread``."""
    vectorizer = CustomTextVectorizer(
        embed=embedding.get_query_embedding,
        aembed=embedding.aget_query_embedding,
    )
    return SemanticCache(
        name=f"{name}-{SCHEMA_VERSION}",
        distance_threshold=threshold,
        ttl=ttl_seconds,
        vectorizer=vectorizer,
        redis_client=client,
        filterable_fields=[
            {"name": "course_scope", "type": "tag", "attrs": {"case_sensitive": True}},
            {"name": "content_version", "type": "tag", "attrs": {"case_sensitive": True}},
            {"name": "language", "type": "tag"},
            {"name": "generator", "type": "tag", "attrs": {"case_sensitive": True}},
            {"name": "page_context", "type": "tag", "attrs": {"case_sensitive": True}},
        ],
    )


async def close_semantic_cache(cache: SemanticCache) -> None:
    """RedisVL makes its own async client from ours on first async use and never closes it."""
    index = cache.aindex
    if index is not None and index.client is not None:
        await index.client.aclose()


class AnswerCache:
    """Lookups and stores with a precomputed question vector, bounded by a timeout."""

    def __init__(self, cache: SemanticCache, timeout: float, metrics: Metrics | None = None):
        self._cache = cache
        self._timeout = timeout
        self._metrics = metrics
        self._recreating = asyncio.Lock()
        self._last_recreate = -RECREATE_INTERVAL_S

    def _count(self, result: str) -> None:
        if self._metrics is not None:
            self._metrics.cache_lookups.labels(result=result).inc()

    async def recreate_index(self) -> bool:
        """Create the cache index if it is missing; at most once per ``RECREATE_INTERVAL_S``."""
        now = time.monotonic()
        if self._recreating.locked() or now - self._last_recreate < RECREATE_INTERVAL_S:
            return False
        async with self._recreating:
            self._last_recreate = now
            try:
                async with asyncio.timeout(self._timeout):
                    await asyncio.to_thread(self._cache.index.create, overwrite=False)
            except Exception as exc:
                log.warning("semantic cache index could not be recreated: %s", type(exc).__name__)
                return False
        log.warning("semantic cache index was missing; created it again")
        return True

    @property
    def threshold(self) -> float:
        return float(self._cache.distance_threshold)

    async def lookup(
        self, vector: list[float], scope: CacheScope, threshold: float | None = None
    ) -> CachedAnswer | None:
        """The closest entry in scope within the threshold, or None."""
        hits = await self.candidates(vector, scope, threshold)
        return hits[0] if hits else None

    async def candidates(
        self,
        vector: list[float],
        scope: CacheScope,
        threshold: float | None = None,
        limit: int = 1,
    ) -> list[CachedAnswer]:
        """Up to ``limit`` entries in scope within the threshold, closest first."""
        if not scope.generators:  # an empty tag list would match every entry
            return []
        where = (
            (Tag("course_scope") == scope.course_tag)
            & (Tag("content_version") == scope.content_version)
            & (Tag("language") == scope.language)
            & (Tag("generator") == list(scope.generators))
            & (Tag("page_context") == scope.page_context)
        )
        if threshold is not None:
            threshold = max(threshold, EXACT)
        try:
            async with asyncio.timeout(self._timeout):
                hits = await self._cache.acheck(
                    vector=vector,
                    num_results=limit,
                    filter_expression=where,
                    distance_threshold=threshold,
                )
        except RedisSearchError:
            self._count("error")
            log.warning("semantic cache search failed (index missing?); answering fresh")
            await self.recreate_index()
            return []
        except Exception:
            self._count("error")
            raise
        self._count("hit" if hits else "miss")
        return [_entry(hit) for hit in hits]

    async def store(
        self,
        question: str,
        answer: str,
        vector: list[float],
        scope: CacheScope,
        metadata: dict[str, Any],
        generator: str,
    ) -> str:
        """Keep an answer written by ``generator``; returns the entry's Redis key."""
        async with asyncio.timeout(self._timeout):
            key: str = await self._cache.astore(
                prompt=question,
                response=answer,
                vector=vector,
                metadata=metadata,
                filters=scope.filters(generator),
            )
        return key

    async def clear(self) -> None:
        async with asyncio.timeout(self._timeout):
            await self._cache.aclear()

    # --- review: take one entry out of the cache, then put it back or drop it ----------------

    def owns(self, key: str) -> bool:
        """``key`` is an entry of this cache (never act on a key from anywhere else)."""
        index = self._cache.index
        return key.startswith(f"{index.prefix}{index.key_separator}")

    async def _client(self) -> Any:
        index = await self._cache._get_async_index()
        return index.client

    async def entry_scope(self, key: str) -> str | None:
        """The course tag an entry was stored for, or None when the entry is gone."""
        if not self.owns(key):
            return None
        client = await self._client()
        async with asyncio.timeout(self._timeout):
            value = await client.hget(key, "course_scope")
        return value.decode() if isinstance(value, bytes) else value

    async def hold(self, key: str, held_key: str) -> bool:
        """Move the entry out of the index to ``held_key`` (kept without expiry, not searchable);
        ``False`` when it had already expired, was evicted or is held."""
        if not self.owns(key) or self.owns(held_key):
            return False
        client = await self._client()
        async with asyncio.timeout(self._timeout):
            try:
                moved = bool(await client.renamenx(key, held_key))
            except redis.ResponseError:  # no such key
                return False
            if moved:
                await client.persist(held_key)
        return moved

    async def release(self, held_key: str, key: str) -> bool:
        """Put a held entry back under its key with a fresh TTL; ``False`` if nothing is held."""
        if not self.owns(key) or self.owns(held_key):
            return False
        client = await self._client()
        async with asyncio.timeout(self._timeout):
            try:
                await client.rename(held_key, key)
            except redis.ResponseError:
                return False
            ttl = self._cache.ttl
            if ttl:
                await client.expire(key, int(ttl))
        return True

    async def evict(self, key: str) -> bool:
        """Delete one entry for good; ``False`` when it was not there."""
        if not self.owns(key):
            return False
        client = await self._client()
        async with asyncio.timeout(self._timeout):
            return bool(await client.delete(key))
