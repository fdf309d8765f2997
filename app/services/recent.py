"""A room's last few turns in Redis, written before the answer's ``chat_response`` is sent.

A turn reaches the database from a background task after its answer went out, so a follow-up
asked right away would not see it there: neither condensed with it nor personalized from it.
Each answered turn is therefore also pushed onto a short capped list per (user, room), readable
by every worker; the history reader merges it with the database's turns by turn id. The key
hashes the pair, so no user or room name can collide with another's, and it expires.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable
from datetime import datetime
from typing import cast

import redis.asyncio as aioredis
from pydantic import ValidationError

from app.db.records import PastTurn

TTL_SECONDS = 3600


class RecentTurns:
    def __init__(self, client: aioredis.Redis, prefix: str, keep: int, timeout: float) -> None:
        self._client = client
        self._prefix = prefix
        self._keep = keep
        self._timeout = timeout

    def _key(self, user_id: str, chatroom_id: str) -> str:
        digest = hashlib.sha256(json.dumps([user_id, chatroom_id]).encode()).hexdigest()[:32]
        return f"{self._prefix}:room:recent:{digest}"

    async def remember(
        self,
        user_id: str,
        chatroom_id: str | None,
        turn_id: str,
        query: str,
        answer: str,
        created_at: datetime,
    ) -> None:
        if chatroom_id is None or self._keep <= 0:
            return
        turn = PastTurn(id=turn_id, query=query, answer=answer, created_at=created_at)
        key = self._key(user_id, chatroom_id)
        pipe = self._client.pipeline(transaction=True)
        pipe.lpush(key, turn.model_dump_json())
        pipe.ltrim(key, 0, self._keep - 1)
        pipe.expire(key, TTL_SECONDS)
        async with asyncio.timeout(self._timeout):
            await pipe.execute()

    async def recent(self, user_id: str, chatroom_id: str | None) -> list[PastTurn]:
        """This user's room's last turns, newest first."""
        if chatroom_id is None or self._keep <= 0:
            return []
        async with asyncio.timeout(self._timeout):
            raw = await cast(
                Awaitable[list[bytes]],
                self._client.lrange(self._key(user_id, chatroom_id), 0, self._keep - 1),
            )
        turns = []
        for item in raw:
            try:
                turns.append(PastTurn.model_validate_json(item))
            except ValidationError:
                continue
        return turns
