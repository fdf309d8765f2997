"""Abuse limits, keyed by identity *and* client IP, shared by every worker through Redis.

Questions are counted with the ``limits`` package's moving window (a fixed window lets twice the
limit through across a window edge): ``RATE_LIMIT_REQUESTS`` per user and
``RATE_LIMIT_IP_REQUESTS`` per client IP per ``RATE_LIMIT_WINDOW_SECONDS``. Open connections are
slots in a sorted set per user and per IP, taken atomically by a Lua script and released on close;
a slot also expires on its own if its worker dies. ``USER_DAILY_TOKEN_BUDGET`` caps the LLM tokens
one user spends per UTC day. Every refusal says when to try again.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import redis.asyncio as aioredis
from limits import RateLimitItemPerSecond
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter

from app.core.config import Settings

_TAKE_SLOTS = """
local now, expiry, member = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
for i = 1, #KEYS do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
  local limit = tonumber(ARGV[3 + i])
  if limit > 0 and redis.call('ZCARD', KEYS[i]) >= limit then return i end
end
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], expiry, member)
  redis.call('EXPIRE', KEYS[i], math.ceil(expiry - now) + 1)
end
return 0
"""


@dataclass(frozen=True)
class Refusal:
    message: str
    retry_after: float

    def text(self) -> str:
        return f"{self.message} Try again in {max(1, round(self.retry_after))} s."


class AbuseLimits:
    def __init__(self, client: aioredis.Redis, settings: Settings) -> None:
        s = settings
        self._client = client
        self._prefix = f"{s.key_prefix}:ratelimit"
        self._timeout = s.redis_timeout_seconds
        self._window = s.rate_limit_window_seconds
        self._user_rate = s.rate_limit_requests
        self._ip_rate = s.rate_limit_ip_requests
        self._max_user = s.ws_max_connections_per_user
        self._max_ip = s.ws_max_connections_per_ip
        self._budget = s.user_daily_token_budget
        self._slot_seconds = s.ws_idle_timeout_seconds + s.openai_timeout_seconds + 60
        storage = RedisStorage(
            "async+" + s.redis_cache_url,
            implementation="redispy",
            key_prefix=self._prefix,
            connection_pool=client.connection_pool,  # type: ignore[arg-type]
        )
        self._limiter = MovingWindowRateLimiter(storage)
        self._take = client.register_script(_TAKE_SLOTS)

    # --- questions -------------------------------------------------------------------------------
    async def _hit(self, per_window: int, *key: str) -> float | None:
        """None when allowed; else seconds until the window has room again."""
        if per_window <= 0:
            return None
        item = RateLimitItemPerSecond(per_window, self._window)
        if await self._limiter.hit(item, *key):
            return None
        stats = await self._limiter.get_window_stats(item, *key)
        return max(stats.reset_time - time.time(), 0.0)

    async def question(self, user_id: str, ip: str | None) -> Refusal | None:
        async with asyncio.timeout(self._timeout):
            wait = await self._hit(self._user_rate, "user", user_id)
            if wait is not None:
                return Refusal(
                    f"Too many questions: the limit is {self._user_rate} per "
                    f"{self._window} s per user.",
                    wait,
                )
            if ip is not None:
                wait = await self._hit(self._ip_rate, "ip", ip)
                if wait is not None:
                    return Refusal(
                        f"Too many questions from your network: the limit is {self._ip_rate} "
                        f"per {self._window} s per address.",
                        wait,
                    )
            return await self._over_budget(user_id)

    # --- daily token budget ----------------------------------------------------------------------
    def _budget_key(self, user_id: str, now: datetime) -> str:
        return f"{self._prefix}:budget:{now:%Y%m%d}:{user_id}"

    async def _over_budget(self, user_id: str) -> Refusal | None:
        if self._budget <= 0:
            return None
        now = datetime.now(UTC)
        used = await self._client.get(self._budget_key(user_id, now))
        if used is None or int(used) < self._budget:
            return None
        midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        return Refusal(
            f"You have used today's budget of {self._budget} tokens (it renews at 00:00 UTC).",
            (midnight - now).total_seconds(),
        )

    async def spend(self, user_id: str, tokens: int) -> None:
        if self._budget <= 0 or tokens <= 0:
            return
        key = self._budget_key(user_id, datetime.now(UTC))
        async with asyncio.timeout(self._timeout):
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.incrby(key, tokens)
                pipe.expire(key, 2 * 86400)
                await pipe.execute()

    # --- connections -----------------------------------------------------------------------------
    def _slot_keys(self, user_id: str, ip: str | None) -> tuple[list[str], list[int]]:
        keys, limits = [f"{self._prefix}:conn:user:{user_id}"], [self._max_user]
        if ip is not None:
            keys.append(f"{self._prefix}:conn:ip:{ip}")
            limits.append(self._max_ip)
        return keys, limits

    async def connect(self, connection_id: str, user_id: str, ip: str | None) -> Refusal | None:
        keys, limits = self._slot_keys(user_id, ip)
        now = time.time()
        async with asyncio.timeout(self._timeout):
            full = int(
                await self._take(keys, [now, now + self._slot_seconds, connection_id, *limits])
            )
        if full == 0:
            return None
        who = "you have" if full == 1 else "your network has"
        return Refusal(
            f"Too many open connections: {who} {limits[full - 1]} already. "
            "Close another tab or connection first.",
            float(self._window),
        )

    async def touch(self, connection_id: str, user_id: str, ip: str | None) -> None:
        keys, _ = self._slot_keys(user_id, ip)
        expiry = time.time() + self._slot_seconds
        async with asyncio.timeout(self._timeout):
            async with self._client.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.zadd(key, {connection_id: expiry}, xx=True)
                await pipe.execute()

    async def disconnect(self, connection_id: str, user_id: str, ip: str | None) -> None:
        keys, _ = self._slot_keys(user_id, ip)
        async with asyncio.timeout(self._timeout):
            async with self._client.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.zrem(key, connection_id)
                await pipe.execute()
