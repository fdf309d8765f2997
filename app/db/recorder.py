"""Store every finished turn, even while the database is down.

Decision: when the database is unreachable, turns are buffered and retried, never dropped. A turn
that cannot be written within the timeout is appended (RPUSH, as JSON) to a Redis list, the outbox;
if Redis fails too it waits in a bounded in-memory queue, and :meth:`TurnRecorder.drain` (run in a
loop by :meth:`TurnRecorder.run`) moves buffered turns into the database later.

Delivery is at-least-once by construction: an outbox entry is read (LRANGE), written, and only then
removed (LREM), so a crash in between replays it. Because
:meth:`~app.db.repository.ChatRepository.record_turn` is idempotent on the turn id, a replay inserts
nothing: at-least-once delivery gives exactly-once rows, even with several workers draining the same
outbox. An entry the database refuses for good (a constraint or data error, text the database
cannot encode, a corrupt payload) goes to ``<outbox_key>:dead`` instead of blocking the queue; it is
still kept, for a human to look at. An entry that fails for a reason not known to be permanent
while the database is reachable is retried at most ``max_attempts`` times, then moved aside too;
only "the database is unreachable" is retried without limit.

What can still lose a turn: the database and Redis both down *and* more than ``memory_limit`` turns
waiting in this process (the oldest is dropped, with an error log), or the process dying while
turns sit in memory. Logs name turns by id only, never their content.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Awaitable
from enum import Enum
from typing import Literal, cast

from pydantic import ValidationError
from pydantic_core import PydanticSerializationError
from redis.asyncio import Redis
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    ProgrammingError,
)

from app.db.records import TurnRecord
from app.db.repository import ChatRepository

log = logging.getLogger(__name__)

RecordOutcome = Literal["stored", "duplicate", "outbox", "memory", "dead"]

# Retrying cannot fix these. Drivers wrap them differently (asyncpg's encoding errors arrive as a
# bare DBAPIError), so the whole exception chain is searched, and SQLSTATE classes 22 (data
# exception) and 23 (integrity constraint) count as well.
_PERMANENT = (IntegrityError, DataError, UnicodeError)
_PERMANENT_SQLSTATE_CLASSES = ("22", "23")
# The database is unreachable or not migrated yet: retried without limit, never the record's fault.
_UNREACHABLE = (OSError, TimeoutError, OperationalError, InterfaceError, ProgrammingError)
MAX_ATTEMPTS = 5


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or getattr(current, "orig", None)
    return seen


def is_permanent(exc: BaseException) -> bool:
    for link in _chain(exc):
        if isinstance(link, _PERMANENT):
            return True
        state = getattr(link, "sqlstate", None) or getattr(link, "pgcode", None)
        if isinstance(state, str) and state[:2] in _PERMANENT_SQLSTATE_CLASSES:
            return True
    return False


def is_unreachable(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, _UNREACHABLE)


def to_json(turn: TurnRecord) -> str:
    """The outbox payload. Text that is not valid Unicode (a lone surrogate) cannot be encoded
    as UTF-8; it is kept as a JSON escape instead, so the record is never lost on the way."""
    try:
        return turn.model_dump_json()
    except PydanticSerializationError:
        return json.dumps(turn.model_dump(mode="python"), default=str, ensure_ascii=True)


class _Delivery(Enum):
    DONE = "done"
    RETRY = "retry"
    DEAD = "dead"


class TurnRecorder:
    """Write turns to the database, falling back to the Redis outbox, then to memory."""

    def __init__(
        self,
        repository: ChatRepository,
        redis: Redis,
        outbox_key: str,
        timeout: float,
        *,
        memory_limit: int = 10_000,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self._repository = repository
        self._redis = redis
        self._key = outbox_key
        self._dead_key = f"{outbox_key}:dead"
        self._timeout = timeout
        self._memory: deque[TurnRecord] = deque()
        self._memory_limit = memory_limit
        self._drain_lock = asyncio.Lock()
        self._max_attempts = max_attempts
        self._attempts: dict[str, int] = {}

    @property
    def in_memory(self) -> int:
        return len(self._memory)

    async def record(self, turn: TurnRecord) -> RecordOutcome:
        """Store ``turn`` now if the database answers in time, else buffer it."""
        try:
            async with asyncio.timeout(self._timeout):
                inserted = await self._repository.record_turn(turn)
            return "stored" if inserted else "duplicate"
        except Exception as exc:  # any failure: the turn must survive it
            if is_permanent(exc):
                log.error("turn %s refused by the database (%s); moved aside", turn.id,
                          type(exc).__name__)  # fmt: skip
                if await self._push(turn, self._dead_key):
                    return "dead"
                self._remember(turn)  # moved aside by the drain once Redis answers
                return "memory"
            log.warning("turn %s not stored (%s); buffering it", turn.id, type(exc).__name__)
        if await self._push(turn):
            return "outbox"
        self._remember(turn)
        return "memory"

    async def pending(self) -> int:
        """Turns waiting: in this process's memory plus in the Redis outbox (raises if Redis
        cannot be asked)."""
        async with asyncio.timeout(self._timeout):
            queued = await cast(Awaitable[int], self._redis.llen(self._key))
        return len(self._memory) + queued

    async def drain(self, max_items: int = 100) -> int:
        """Move up to ``max_items`` buffered turns into the database; return how many moved.

        Stops early, leaving the rest in place, as soon as the database fails again.
        """
        async with self._drain_lock:
            moved, healthy = await self._drain_memory(max_items)
            if healthy and moved < max_items:
                moved += await self._drain_outbox(max_items - moved)
            return moved

    async def run(self, interval_s: float, max_items: int = 100) -> None:
        """Drain until cancelled: the lifespan runs this as a background task."""
        while True:
            try:
                moved = await self.drain(max_items)
            except Exception:
                log.exception("draining the turn outbox failed")
                moved = 0
            if moved < max_items:
                await asyncio.sleep(interval_s)

    # --- internals -----------------------------------------------------------------------------

    def _remember(self, turn: TurnRecord) -> None:
        if len(self._memory) >= self._memory_limit:
            lost = self._memory.popleft()
            log.error("turn buffer full: turn %s dropped (database and Redis down)", lost.id)
        self._memory.append(turn)
        log.error("turn %s kept in memory only: the Redis outbox is unreachable too", turn.id)

    def _forget(self, turn: TurnRecord) -> None:
        with contextlib.suppress(ValueError):  # already evicted while we awaited
            self._memory.remove(turn)

    async def _push(self, turn: TurnRecord, key: str | None = None) -> bool:
        try:
            async with asyncio.timeout(self._timeout):
                await cast(Awaitable[int], self._redis.rpush(key or self._key, to_json(turn)))
            return True
        except Exception as exc:
            log.warning("turn %s: Redis outbox unreachable (%s)", turn.id, type(exc).__name__)
            return False

    async def _deliver(self, turn: TurnRecord) -> _Delivery:
        try:
            async with asyncio.timeout(self._timeout):
                await self._repository.record_turn(turn)
            self._attempts.pop(turn.id, None)
            return _Delivery.DONE
        except Exception as exc:
            # Type only: a PostgreSQL error detail can quote the failing row, i.e. the content.
            name = type(exc).__name__
            if is_permanent(exc):
                log.error("turn %s refused by the database (%s); moved aside", turn.id, name)
                return _Delivery.DEAD
            if not is_unreachable(exc):
                attempts = self._attempts[turn.id] = self._attempts.get(turn.id, 0) + 1
                if attempts >= self._max_attempts:
                    self._attempts.pop(turn.id, None)
                    log.error("turn %s failed %d times (%s); moved aside", turn.id, attempts, name)
                    return _Delivery.DEAD
            log.info("turn %s still not stored (%s)", turn.id, name)
            return _Delivery.RETRY

    async def _drain_memory(self, budget: int) -> tuple[int, bool]:
        moved = 0
        for turn in list(self._memory)[:budget]:
            outcome = await self._deliver(turn)
            if outcome is _Delivery.DONE:
                self._forget(turn)
                moved += 1
                continue
            # Database still down (or refusing this one): hand memory over to Redis if it is
            # back, so the turns survive a restart of this process.
            key = self._dead_key if outcome is _Delivery.DEAD else None
            if await self._push(turn, key):
                self._forget(turn)
            if outcome is _Delivery.RETRY:
                await self._spill_memory()
                return moved, False
        return moved, True

    async def _spill_memory(self) -> None:
        for turn in list(self._memory):
            if not await self._push(turn):
                return
            self._forget(turn)

    async def _drain_outbox(self, budget: int) -> int:
        moved = 0
        try:
            async with asyncio.timeout(self._timeout):
                payloads = await cast(
                    Awaitable[list[bytes | str]], self._redis.lrange(self._key, 0, budget - 1)
                )
            for payload in payloads:
                outcome = await self._deliver_payload(payload)
                if outcome is _Delivery.RETRY:
                    break
                if outcome is _Delivery.DONE:
                    moved += 1
                await self._remove(payload, dead=outcome is _Delivery.DEAD)
        except Exception as exc:
            log.warning("turn outbox unreachable while draining (%s)", type(exc).__name__)
        return moved

    async def _deliver_payload(self, payload: bytes | str) -> _Delivery:
        try:
            turn = TurnRecord.model_validate_json(payload)
        except ValidationError:
            log.error("unreadable entry in the turn outbox %s; moved aside", self._key)
            return _Delivery.DEAD
        return await self._deliver(turn)

    async def _remove(self, payload: bytes | str, *, dead: bool) -> None:
        """LREM after the write, never before: a crash in between replays, it does not lose."""
        async with asyncio.timeout(self._timeout), self._redis.pipeline(transaction=True) as pipe:
            if dead:
                pipe.rpush(self._dead_key, payload)
            # redis-py annotates str, but sends bytes as they are: exactly what LRANGE gave us.
            pipe.lrem(self._key, 1, payload)  # type: ignore[arg-type]
            await pipe.execute()
