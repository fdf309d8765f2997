"""Everything the app holds for its lifetime, typed, built once by the lifespan."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis

from app.core.config import Settings
from app.db.recorder import TurnRecorder
from app.db.repository import ChatRepository
from app.lifecycle import Lifecycle
from app.observability.metrics import Metrics
from app.services.chat import ChatService
from app.services.presence import Presence
from app.services.ratelimit import RateLimiter
from app.services.stats import TurnStats
from app.services.versions import VersionReader

log = logging.getLogger(__name__)


class BackgroundTasks:
    """Fire-and-forget work that must not die with the request that started it (turn records)."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed", task.get_name(), exc_info=task.exception())

    async def wait(self, seconds: float) -> None:
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=seconds)

    def __len__(self) -> int:
        return len(self._tasks)


@dataclass
class Services:
    settings: Settings
    redis: aioredis.Redis
    chat: ChatService
    versions: VersionReader
    repository: ChatRepository
    recorder: TurnRecorder
    presence: Presence
    limiter: RateLimiter
    stats: TurnStats
    metrics: Metrics | None = None
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    background: BackgroundTasks = field(default_factory=BackgroundTasks)
    started_at: float = field(default_factory=time.time)
