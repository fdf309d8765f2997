"""Everything the app holds for its lifetime, typed, built once by the lifespan."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis

from app.auth.abuse import AbuseLimits
from app.auth.service import Authenticator
from app.core.config import Settings
from app.db.recorder import TurnRecorder
from app.db.repository import ChatRepository
from app.lifecycle import Lifecycle
from app.observability.metrics import Metrics
from app.services.presence import Presence
from app.services.recent import RecentTurns
from app.services.stats import TurnStats
from app.services.turn import Answerer
from app.services.turnlog import TurnLog
from app.services.versions import VersionReader
from app.teaching.services import TeachingServices

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

    async def wait_for(self, name: str, seconds: float) -> None:
        """Wait (bounded) for the pending task called ``name``, if any: e.g. a turn's record,
        before feedback on that turn is looked up."""
        pending = {task for task in self._tasks if task.get_name() == name}
        if pending:
            await asyncio.wait(pending, timeout=seconds)

    def __len__(self) -> int:
        return len(self._tasks)


@dataclass
class Services:
    settings: Settings
    redis: aioredis.Redis
    chat: Answerer  # the ChatService, wrapped in a span per turn when tracing is on
    versions: VersionReader
    repository: ChatRepository
    recorder: TurnRecorder
    presence: Presence
    limiter: AbuseLimits
    stats: TurnStats
    auth: Authenticator
    teaching: TeachingServices | None = None  # feedback, curated answers, insights, modes
    metrics: Metrics | None = None
    recent: RecentTurns | None = None  # a room's latest turns, before they reach the database
    turn_log: TurnLog | None = None  # answers' frames for `resume` (None: RESUME_WINDOW_SECONDS=0)
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    background: BackgroundTasks = field(default_factory=BackgroundTasks)
    started_at: float = field(default_factory=time.time)
