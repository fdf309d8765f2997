"""Live performance numbers for ``/ws/status``: per-day counters in Redis, shared by all workers.

Every finished turn adds its real latency and token count; averages are sums over counts, so they
are exact for the day and cheap to read.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis

RETENTION_SECONDS = 8 * 24 * 3600


class TurnStats:
    def __init__(self, client: aioredis.Redis, prefix: str, timeout: float) -> None:
        self._client = client
        self._prefix = prefix
        self._timeout = timeout

    def _key(self, day: datetime | None = None) -> str:
        return f"{self._prefix}:stats:{(day or datetime.now(UTC)).strftime('%Y-%m-%d')}"

    async def record(self, completed: bool, cached: bool, latency_ms: float, tokens: int) -> None:
        key = self._key()
        async with asyncio.timeout(self._timeout):
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.hincrby(key, "requests", 1)
                if completed:
                    pipe.hincrby(key, "completed", 1)
                    pipe.hincrby(key, "cache_hits", int(cached))
                    pipe.hincrbyfloat(key, "latency_ms_sum", latency_ms)
                    pipe.hincrby(key, "tokens_sum", tokens)
                pipe.expire(key, RETENTION_SECONDS)
                await pipe.execute()

    async def today(self) -> dict[str, float]:
        async with asyncio.timeout(self._timeout):
            raw: dict[Any, Any] = await self._client.hgetall(self._key())  # type: ignore[misc]
        values = {(k.decode() if isinstance(k, bytes) else k): float(v) for k, v in raw.items()}
        completed = values.get("completed", 0.0) or 1.0  # averages over finished turns

        def mean(name: str, digits: int) -> float:
            return round(values.get(name, 0.0) / completed, digits)

        return {
            "avg_response_time_ms": mean("latency_ms_sum", 1),
            "cache_hit_rate": mean("cache_hits", 3),
            "avg_tokens_per_response": mean("tokens_sum", 1),
            "total_requests_today": values.get("requests", 0.0),
        }
