"""Per-user question limit, counted in Redis so every worker enforces the same budget."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import redis.asyncio as aioredis


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    count: int
    retry_after: float


class RateLimiter:
    """Fixed window: at most ``limit`` chat requests per user per ``window`` seconds (0 = off)."""

    def __init__(
        self, client: aioredis.Redis, prefix: str, limit: int, window: int, timeout: float
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._limit = limit
        self._window = window
        self._timeout = timeout

    async def hit(self, user_id: str) -> RateDecision:
        if self._limit <= 0:
            return RateDecision(True, 0, 0.0)
        now = time.time()
        window_start = int(now // self._window) * self._window
        key = f"{self._prefix}:ratelimit:{user_id}:{window_start}"
        async with asyncio.timeout(self._timeout):
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                pipe.expire(key, self._window + 1)
                count, _ = await pipe.execute()
        retry_after = window_start + self._window - now
        return RateDecision(int(count) <= self._limit, int(count), round(retry_after, 1))
