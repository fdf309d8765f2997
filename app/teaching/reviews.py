"""Downvoted cached answers wait here, out of the cache, until a lecturer has looked at them.

A downvote of an answer that came from (or went into) the semantic cache moves that entry out of
the cache's search index to a held key with no expiry, so no one is served it again; the course's
queue (a Redis hash, entry id → when and why) lists it for its lecturers, who either restore it
(the answer was fine: back into the cache with a fresh TTL) or discard it. Several downvotes of the
same entry are one queue item. The held copy lives beside the cache, in the same Redis, because it
is cache data; the ratings and comments themselves are in the database (``feedback`` table).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import redis.asyncio as aioredis
from pydantic import BaseModel

from app.services.cache import ALL_COURSES, AnswerCache, is_course_set_tag


class HeldAnswer(BaseModel):
    entry_id: str
    cache_key: str
    course_id: str | None
    question: str
    answer: str
    sources: list[dict[str, Any]]
    held_at: float
    turn_id: str | None
    downvotes: int


def course_tag(course_id: str | None) -> str:
    return course_id or ALL_COURSES


def _same_scope(entry_tag: str, course_id: str | None) -> bool:
    if course_id is None:
        return is_course_set_tag(entry_tag)
    return entry_tag == course_id


def entry_id_of(cache_key: str) -> str:
    return cache_key.rsplit(":", 1)[-1]


class ReviewQueue:
    def __init__(
        self, cache: AnswerCache, client: aioredis.Redis, key_prefix: str, timeout: float
    ) -> None:
        self._cache = cache
        self._client = client
        self._prefix = key_prefix
        self._timeout = timeout

    def _queue(self, course_id: str | None) -> str:
        return f"{self._prefix}:review:queue:{course_tag(course_id)}"

    def _held(self, entry_id: str) -> str:
        return f"{self._prefix}:review:held:{entry_id}"

    async def hold(self, cache_key: str, course_id: str | None, turn_id: str) -> bool:
        """Take the entry out of the cache for review; ``True`` when it is held now.

        Refuses an entry stored for another course: a turn only ever records its own course's
        entries, and this keeps it so even if a record were wrong. A turn asked across several
        courses (``course_id`` None) holds its entry in the queue of answers without one course,
        which only staff of every course review.
        """
        if not self._cache.owns(cache_key):
            return False
        entry_id = entry_id_of(cache_key)
        queue = self._queue(course_id)
        scope = await self._cache.entry_scope(cache_key)
        if scope is not None and not _same_scope(scope, course_id):
            return False
        moved = scope is not None and await self._cache.hold(cache_key, self._held(entry_id))
        async with asyncio.timeout(self._timeout):
            known = await self._client.hget(queue, entry_id)  # type: ignore[misc]
            if known is not None:
                item = json.loads(known)
                item["downvotes"] = int(item.get("downvotes", 1)) + 1
            elif moved:
                item = {"key": cache_key, "held_at": time.time(), "turn_id": turn_id}
                item["downvotes"] = 1
            else:
                return False  # expired or evicted already: nothing left to serve
            await self._client.hset(queue, entry_id, json.dumps(item))  # type: ignore[misc]
        return True

    async def items(self, course_id: str | None) -> list[HeldAnswer]:
        async with asyncio.timeout(self._timeout):
            raw: dict[Any, Any] = await self._client.hgetall(self._queue(course_id))  # type: ignore[misc]
            held = []
            for field, value in raw.items():
                entry_id = field.decode() if isinstance(field, bytes) else str(field)
                item = json.loads(value)
                fields = await self._client.hmget(  # type: ignore[misc]
                    self._held(entry_id), ["prompt", "response", "metadata"]
                )
                held.append((entry_id, item, fields))
        answers = []
        for entry_id, item, (prompt, response, metadata) in held:
            meta = json.loads(metadata) if metadata else {}
            answers.append(
                HeldAnswer(
                    entry_id=entry_id,
                    cache_key=str(item["key"]),
                    course_id=course_id,
                    question=_text(prompt),
                    answer=_text(response),
                    sources=list(meta.get("sources", [])),
                    held_at=float(item["held_at"]),
                    turn_id=item.get("turn_id"),
                    downvotes=int(item.get("downvotes", 1)),
                )
            )
        return sorted(answers, key=lambda a: a.held_at, reverse=True)

    async def _take(self, course_id: str | None, entry_id: str) -> str | None:
        """Remove the queue item; its cache key, or None when the course has no such item."""
        async with asyncio.timeout(self._timeout):
            raw = await self._client.hget(self._queue(course_id), entry_id)  # type: ignore[misc]
            if raw is None:
                return None
            await self._client.hdel(self._queue(course_id), entry_id)  # type: ignore[misc]
        return str(json.loads(raw)["key"])

    async def restore(self, course_id: str | None, entry_id: str) -> bool:
        """The answer was fine: back into the cache. ``False`` when no such item is queued."""
        key = await self._take(course_id, entry_id)
        if key is None:
            return False
        await self._cache.release(self._held(entry_id), key)
        return True

    async def discard(self, course_id: str | None, entry_id: str) -> bool:
        """The answer was wrong: drop it for good. ``False`` when no such item is queued."""
        if await self._take(course_id, entry_id) is None:
            return False
        async with asyncio.timeout(self._timeout):
            await self._client.delete(self._held(entry_id))
        return True


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else str(value)
