"""The content version of a course, read from Redis where ingestion writes it."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from app.core.knowledge import KnowledgeKeys, course_version, course_versions


class VersionReader:
    def __init__(self, client: aioredis.Redis, keys: KnowledgeKeys, timeout: float) -> None:
        self._client = client
        self._keys = keys
        self._timeout = timeout

    async def get(self, course_id: str | frozenset[str] | None) -> str:
        """The content version of one course, of a set of courses, or of all (``None``)."""
        async with asyncio.timeout(self._timeout):
            return await course_version(self._client, self._keys, course_id)

    async def each(self, course_id: str | frozenset[str] | None) -> tuple[str, dict[str, str]]:
        """:meth:`get`, and each course's own version (read together: one round trip)."""
        async with asyncio.timeout(self._timeout):
            return await course_versions(self._client, self._keys, course_id)

    async def exists(self, course_id: str) -> bool:
        return await self.any_exists(frozenset({course_id}))

    async def any_exists(self, course_ids: frozenset[str]) -> bool:
        """Material has been loaded for at least one of these courses (one round trip)."""
        keys = [self._keys.version(c) for c in sorted(course_ids)]
        if not keys:
            return False
        async with asyncio.timeout(self._timeout):
            return bool(await self._client.exists(*keys))
