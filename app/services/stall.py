"""A time limit on each wait for the next token, at no cost per token.

``asyncio.timeout`` around every ``__anext__`` creates a timer and cancels it again for each token
(a few µs, a sizable share of a lean stream's per-token CPU). The guard keeps one timer per
stream instead: each wait only notes when it started, and the timer, when it fires, either finds
the current wait older than the limit (it cancels the waiting task, which surfaces as
``TimeoutError`` exactly like ``asyncio.timeout``) or re-arms itself for the current wait's due
time. It is only ever armed while the task waits on the stream, never while the caller handles
a token.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

T = TypeVar("T")


class StallGuard:
    def __init__(self, limit_s: float) -> None:
        self.limit_s = limit_s
        self._loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("StallGuard needs a running task")
        self._task = task
        self._since: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._fired = False

    def _check(self) -> None:
        self._timer = None
        if self._since is None:  # not waiting now: the next wait arms the timer again
            return
        due = self._since + self.limit_s
        if self._loop.time() >= due:
            self._fired = True
            self._task.cancel()
        else:
            self._timer = self._loop.call_at(due, self._check)

    async def wait(self, awaitable: Awaitable[T]) -> T:
        """Await ``awaitable``; ``TimeoutError`` if it takes longer than ``limit_s``."""
        self._since = self._loop.time()
        if self._timer is None:
            self._timer = self._loop.call_at(self._since + self.limit_s, self._check)
        try:
            return await awaitable
        except asyncio.CancelledError:
            if self._fired and self._task.uncancel() == 0:
                raise TimeoutError from None
            raise
        finally:
            self._since = None

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


async def next_within(guard: StallGuard, iterator: AsyncIterator[T]) -> T:
    """``anext(iterator)`` under the guard (StopAsyncIteration passes through)."""
    return await guard.wait(iterator.__anext__())
