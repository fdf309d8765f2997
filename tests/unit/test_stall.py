"""The per-wait time limit on a token stream: slow overall is fine, one long silence is not."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from app.services.stall import StallGuard, next_within


async def tokens(gaps: list[float]) -> AsyncIterator[int]:
    for i, gap in enumerate(gaps):
        await asyncio.sleep(gap)
        yield i


async def drain(gaps: list[float], limit: float, work: float = 0.0) -> list[int]:
    guard = StallGuard(limit)
    seen: list[int] = []
    iterator = tokens(gaps)
    try:
        while True:
            try:
                seen.append(await next_within(guard, iterator))
            except StopAsyncIteration:
                return seen
            await asyncio.sleep(work)  # the caller's own work between tokens is never timed
    finally:
        guard.close()


async def test_many_short_gaps_add_up_past_the_limit_without_firing() -> None:
    assert await drain([0.05] * 8, limit=0.15) == list(range(8))


async def test_the_callers_work_between_tokens_does_not_count() -> None:
    assert await drain([0.01] * 3, limit=0.1, work=0.25) == [0, 1, 2]


async def test_one_long_silence_raises_timeout_error() -> None:
    with pytest.raises(TimeoutError):
        await drain([0.01, 0.01, 0.5], limit=0.15)


async def test_a_cancel_from_outside_stays_a_cancel() -> None:
    task = asyncio.create_task(drain([5.0], limit=10.0))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
