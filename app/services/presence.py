"""Who is connected and who is chatting, across every worker process, in Redis.

Each worker keeps the members it owns and refreshes their expiry on a heartbeat; a worker that dies
without cleaning up simply stops refreshing, and its members expire. Counting is a sorted-set range
over unexpired scores, so any worker can answer ``/ws/status`` for all of them.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import redis.asyncio as aioredis

SEP = "|"
COURSE_SEP = ","  # never in a course id
EVERY_COURSE = "*"


def scope_field(courses: frozenset[str] | None) -> str:
    """A connection's course scope as its presence entry keeps it (``*``: every course)."""
    return EVERY_COURSE if courses is None else COURSE_SEP.join(sorted(courses))


@dataclass(frozen=True)
class Connected:
    user_id: str
    courses: frozenset[str] | None  # None: every course, or not known (an older entry)


@dataclass(frozen=True)
class PresenceSnapshot:
    connections: int
    users: list[str]
    active_chats: int
    members: tuple[Connected, ...] = ()

    def connections_in(self, courses: frozenset[str] | None) -> int:
        """Open connections scoped to any of ``courses`` (all of them for ``None``). A connection
        bound to no course (every course) belongs to none in particular and counts only in all."""
        if courses is None:
            return self.connections
        return sum(1 for m in self.members if m.courses is not None and m.courses & courses)

    def users_in(self, courses: frozenset[str]) -> list[str]:
        """Users with a connection scoped to any of ``courses`` (never an every-course one)."""
        return sorted(
            {m.user_id for m in self.members if m.courses is not None and m.courses & courses}
        )


def _member(connection_id: str, user_id: str, courses: frozenset[str] | None) -> str:
    return f"{connection_id}{SEP}{user_id}{SEP}{scope_field(courses)}"


def _parse(member: str) -> Connected:
    parts = member.split(SEP, 2)
    field = parts[2] if len(parts) == 3 else EVERY_COURSE
    courses = None if field == EVERY_COURSE else frozenset(field.split(COURSE_SEP))
    return Connected(parts[1] if len(parts) > 1 else "", courses)


class Presence:
    def __init__(
        self, client: aioredis.Redis, prefix: str, heartbeat: float, timeout: float
    ) -> None:
        self._client = client
        self._connections_key = f"{prefix}:ws:connections"
        self._chats_key = f"{prefix}:ws:chats"
        self._heartbeat = heartbeat
        self._timeout = timeout
        self._connections: set[str] = set()
        self._chats: set[str] = set()

    def _expiry(self) -> float:
        return time.time() + 3 * self._heartbeat

    async def _add(self, key: str, member: str) -> None:
        async with asyncio.timeout(self._timeout):
            await self._client.zadd(key, {member: self._expiry()})

    async def _remove(self, key: str, member: str) -> None:
        async with asyncio.timeout(self._timeout):
            await self._client.zrem(key, member)

    @property
    def local_chats(self) -> int:
        """Answers streaming in this process right now."""
        return len(self._chats)

    async def connected(
        self, connection_id: str, user_id: str, courses: frozenset[str] | None = None
    ) -> None:
        """``courses``: the connection's scope, so course staff can see their own course's
        users (``None``: every course, shown to staff of every course only)."""
        member = _member(connection_id, user_id, courses)
        self._connections.add(member)
        await self._add(self._connections_key, member)

    async def disconnected(
        self, connection_id: str, user_id: str, courses: frozenset[str] | None = None
    ) -> None:
        member = _member(connection_id, user_id, courses)
        self._connections.discard(member)
        await self._remove(self._connections_key, member)

    async def chat_started(self, turn_id: str) -> None:
        self._chats.add(turn_id)
        await self._add(self._chats_key, turn_id)

    async def chat_finished(self, turn_id: str) -> None:
        self._chats.discard(turn_id)
        await self._remove(self._chats_key, turn_id)

    async def refresh(self) -> None:
        expiry = self._expiry()
        async with asyncio.timeout(self._timeout):
            async with self._client.pipeline(transaction=False) as pipe:
                if self._connections:
                    pipe.zadd(self._connections_key, dict.fromkeys(self._connections, expiry))
                if self._chats:
                    pipe.zadd(self._chats_key, dict.fromkeys(self._chats, expiry))
                now = time.time()
                pipe.zremrangebyscore(self._connections_key, "-inf", now)
                pipe.zremrangebyscore(self._chats_key, "-inf", now)
                await pipe.execute()

    async def run(self) -> None:
        """Heartbeat loop for the lifespan; errors are retried on the next beat."""
        while True:
            await asyncio.sleep(self._heartbeat)
            try:
                await self.refresh()
            except (OSError, TimeoutError, aioredis.RedisError):
                continue

    async def snapshot(self) -> PresenceSnapshot:
        now = time.time()
        async with asyncio.timeout(self._timeout):
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.zrangebyscore(self._connections_key, now, "+inf")
                pipe.zcount(self._chats_key, now, "+inf")
                members, chats = await pipe.execute()
        parsed = tuple(_parse(m.decode() if isinstance(m, bytes) else m) for m in members)
        users = sorted({m.user_id for m in parsed})
        return PresenceSnapshot(len(members), users, int(chats), parsed)
