"""A turn's frames in a Redis Stream, so an answer cut off by a dropped socket can be resumed on
any worker.

The turn's worker appends each ``chat_chunk`` (numbered by its ``chunk_index``) and finally the
``chat_response`` or ``error`` frame, as the JSON text it sent; a ``resume`` anywhere replays the
chunks after the client's last one and then follows the stream live (``XREAD BLOCK``) until the
final frame. Appends go through one writer task per turn that pipelines whatever queued up while
the previous batch was in flight, so streaming never waits on Redis. The stream and the turn's
owner key expire ``window`` seconds after the last write; the stream is capped at
:data:`MAX_FRAMES` entries.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.typing import EncodableT, FieldT

log = logging.getLogger(__name__)

FINAL = -1  # the index of the final frame (chat_response or error)
MAX_FRAMES = 4096
FOLLOW_BLOCK_MS = 1000
BACKING_ERRORS = (aioredis.RedisError, OSError, TimeoutError)


class TurnGoneError(Exception):
    """The turn's frames expired, or no new frame came for the whole window."""


@dataclass(frozen=True)
class LoggedFrame:
    index: int  # chunk_index, or FINAL
    text: str  # the frame's JSON, exactly as the turn's worker sent it


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class TurnLog:
    def __init__(
        self, client: aioredis.Redis, prefix: str, window_s: float, timeout: float
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._window = window_s
        self._ttl = max(1, math.ceil(window_s))
        self._timeout = timeout

    def _frames_key(self, turn_id: str) -> str:
        return f"{self._prefix}:turn:{turn_id}:frames"

    def _owner_key(self, turn_id: str) -> str:
        return f"{self._prefix}:turn:{turn_id}:owner"

    def writer(self, turn_id: str, user_id: str) -> TurnLogWriter:
        return TurnLogWriter(
            self._client,
            self._frames_key(turn_id),
            self._owner_key(turn_id),
            user_id,
            self._ttl,
            self._timeout,
        )

    async def owner(self, turn_id: str) -> str | None:
        async with asyncio.timeout(self._timeout):
            value = await self._client.get(self._owner_key(turn_id))
        return None if value is None else _text(value)

    async def follow(self, turn_id: str, after: int) -> AsyncIterator[LoggedFrame]:
        """Chunks with an index above ``after``, then the final frame; live while the turn runs."""
        key = self._frames_key(turn_id)
        last_id = "0-0"
        quiet_since = time.monotonic()
        while True:
            async with asyncio.timeout(self._timeout + FOLLOW_BLOCK_MS / 1000):
                reply = await self._client.xread({key: last_id}, count=256, block=FOLLOW_BLOCK_MS)
            if not reply:
                if time.monotonic() - quiet_since > self._window:
                    raise TurnGoneError
                async with asyncio.timeout(self._timeout):  # gone: expired or cancelled
                    if not await self._client.exists(self._owner_key(turn_id)):
                        raise TurnGoneError
                continue
            quiet_since = time.monotonic()
            for entry_id, fields in reply[0][1]:
                last_id = _text(entry_id)
                frame = LoggedFrame(int(fields[b"i"]), _text(fields[b"f"]))
                if frame.index == FINAL or frame.index > after:
                    yield frame
                if frame.index == FINAL:
                    return


class TurnLogWriter:
    """Appends one turn's frames in order, batched; Redis trouble loses the log, not the answer."""

    def __init__(
        self,
        client: aioredis.Redis,
        frames_key: str,
        owner_key: str,
        user_id: str,
        ttl: int,
        timeout: float,
    ) -> None:
        self._client = client
        self._frames_key = frames_key
        self._owner_key = owner_key
        self._user_id = user_id
        self._ttl = ttl
        self._timeout = timeout
        self._queue: asyncio.Queue[LoggedFrame | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._discard = False

    def start(self) -> None:
        """Name the turn's owner now, so a resume right after a drop finds the turn."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"log-{self._frames_key}")

    def add(self, index: int, text: str) -> None:
        self.start()
        self._queue.put_nowait(LoggedFrame(index, text))

    async def close(self, discard: bool = False) -> None:
        """Wait (bounded) until everything added is written; ``discard``: then delete it all
        (an answer cancelled without a final frame cannot be resumed)."""
        if self._task is None:
            return
        self._discard = discard
        self._queue.put_nowait(None)
        try:
            async with asyncio.timeout(2 * self._timeout):
                await asyncio.shield(self._task)
        except TimeoutError:
            self._task.cancel()

    async def _run(self) -> None:
        await self._write([], first=True)
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            frames = [frame for frame in batch if frame is not None]
            if frames:
                await self._write(frames, first=False)
            if len(frames) < len(batch):
                if self._discard:
                    await self._delete()
                return

    async def _write(self, frames: list[LoggedFrame], first: bool) -> None:
        pipe = self._client.pipeline(transaction=False)
        if first:
            pipe.set(self._owner_key, self._user_id, ex=self._ttl)
        else:
            pipe.expire(self._owner_key, self._ttl)
        for frame in frames:
            fields: dict[FieldT, EncodableT] = {"i": frame.index, "f": frame.text}
            pipe.xadd(self._frames_key, fields, maxlen=MAX_FRAMES, approximate=True)
        if frames:
            pipe.expire(self._frames_key, self._ttl)
        try:
            async with asyncio.timeout(self._timeout):
                await pipe.execute()
        except BACKING_ERRORS:
            log.warning("turn frames not kept for resume (%s)", self._frames_key, exc_info=True)

    async def _delete(self) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                await self._client.delete(self._frames_key, self._owner_key)
        except BACKING_ERRORS:
            log.warning("frames of a cancelled turn left to expire (%s)", self._frames_key)
