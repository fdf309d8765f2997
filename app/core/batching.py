"""Micro-batching for a model that serves one call at a time: whoever waits goes in the next batch.

There is no collection window: a lone request starts a batch at once (no added latency), and
requests that arrive while a batch runs form the next one. Under load the wait is therefore the
model's batch throughput, not a queue of single calls. The model runs in a worker thread so the
event loop keeps serving sockets meanwhile.

Async primitives belong to the loop that created them, and a process may run more than one loop
(tests, benchmarks, the ingest CLI next to a server), so :class:`LoopBatchers` keeps one batcher
per running loop.

When the queue runs dry (the burst is over and every asker has its result), an optional ``on_idle``
coroutine runs before the batcher stops: the embedding model gives back memory there
(:mod:`app.core.mapped_pages`), off the askers' path.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")
log = logging.getLogger(__name__)


OnIdle = Callable[[], Awaitable[None]]


class MicroBatcher(Generic[K, V]):
    def __init__(
        self,
        run_batch: Callable[[list[K]], list[V]],
        max_batch: int,
        on_idle: OnIdle | None = None,
    ) -> None:
        self._run_batch = run_batch
        self._max_batch = max(1, max_batch)
        self._on_idle = on_idle
        self._waiting: list[tuple[K, asyncio.Future[V]]] = []
        self._worker: asyncio.Task[None] | None = None
        self.batches = 0  # how many model calls were made (for tests and benchmarks)

    async def submit(self, item: K) -> V:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[V] = loop.create_future()
        self._waiting.append((item, future))
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._work(), name="micro-batcher")
        return await future

    async def _work(self) -> None:
        while True:
            await self._drain()
            if self._on_idle is None:
                return
            try:
                await self._on_idle()
            except Exception:
                log.warning("the batcher's idle step failed", exc_info=True)
            if not self._waiting:  # nothing arrived meanwhile (else this worker serves it)
                return

    async def _drain(self) -> None:
        while self._waiting:
            batch = self._waiting[: self._max_batch]
            del self._waiting[: self._max_batch]
            live = [(item, future) for item, future in batch if not future.done()]
            if not live:
                continue
            self.batches += 1
            try:
                results = await asyncio.to_thread(self._run_batch, [item for item, _ in live])
            except asyncio.CancelledError:
                for _, future in live + self._waiting:
                    future.cancel()
                self._waiting.clear()
                raise
            except Exception as exc:
                for _, future in live:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(live, results, strict=True):
                if not future.done():  # the asker may have given up (cancelled) meanwhile
                    future.set_result(result)


class LoopBatchers(Generic[K, V]):
    """One :class:`MicroBatcher` per running event loop, forgotten with its loop."""

    def __init__(
        self,
        run_batch: Callable[[list[K]], list[V]],
        max_batch: int,
        on_idle: OnIdle | None = None,
    ) -> None:
        self._run_batch = run_batch
        self._max_batch = max_batch
        self._on_idle = on_idle
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, MicroBatcher[K, V]] = (
            weakref.WeakKeyDictionary()
        )

    def for_running_loop(self) -> MicroBatcher[K, V]:
        loop = asyncio.get_running_loop()
        batcher = self._by_loop.get(loop)
        if batcher is None:
            batcher = MicroBatcher(self._run_batch, self._max_batch, self._on_idle)
            self._by_loop[loop] = batcher
        return batcher

    async def submit(self, item: K) -> V:
        return await self.for_running_loop().submit(item)
