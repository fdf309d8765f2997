"""What we know about the student for this turn: the chatroom's recent turns and the profile.

Rooms belong to one user (the repository looks them up by user id *and* room id), so a student can
never pull another student's history into a prompt by guessing a chatroom id. A database outage
degrades to "no history" rather than failing the question.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import redis.asyncio as aioredis
from sqlalchemy.exc import SQLAlchemyError

from app.db.records import PastTurn

if TYPE_CHECKING:
    from app.db.repository import ChatRepository
    from app.services.recent import RecentTurns

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConversationContext:
    turns: list[tuple[str, str]] = field(default_factory=list)  # (question, answer), oldest first
    profile_text: str = ""
    answer_language: str | None = None

    @property
    def has_material(self) -> bool:
        """Personalizing needs something to personalize with."""
        return bool(self.profile_text or self.turns)


class ConversationSource:
    def __init__(
        self,
        repository: ChatRepository | None,
        history_turns: int,
        timeout: float,
        recent: RecentTurns | None = None,
    ) -> None:
        self._repository = repository
        self._history_turns = history_turns
        self._timeout = timeout
        self._recent = recent

    async def load(
        self, user_id: str, chatroom_id: str | None, personalize: bool
    ) -> ConversationContext:
        latest = await self._latest(user_id, chatroom_id)
        if self._repository is None:
            return ConversationContext(self._merge([], latest))
        try:
            async with asyncio.timeout(self._timeout):
                past: list[PastTurn] = []
                if chatroom_id and self._history_turns:
                    past = await self._repository.recent_turns(
                        user_id, chatroom_id, self._history_turns
                    )
                profile = await self._repository.get_profile(user_id) if personalize else None
        except (SQLAlchemyError, OSError, TimeoutError) as exc:  # answer without history instead
            log.warning("history/profile unavailable for this turn: %s", type(exc).__name__)
            return ConversationContext(self._merge([], latest))
        turns = self._merge(past, latest)
        if profile is None:
            return ConversationContext(turns)
        described = [
            f"{label}: {value}"
            for label, value in (
                ("level", profile.level),
                ("study program", profile.study_program),
                ("preferred language", profile.preferred_language),
            )
            if value
        ]
        language = (
            profile.preferred_language if profile.preferred_language in ("id", "en") else None
        )
        return ConversationContext(turns, "\n".join(described), language)

    async def _latest(self, user_id: str, chatroom_id: str | None) -> list[PastTurn]:
        """The room's turns answered just now, which may not have reached the database yet."""
        if self._recent is None or not chatroom_id or not self._history_turns:
            return []
        try:
            return await self._recent.recent(user_id, chatroom_id)
        except (aioredis.RedisError, OSError, TimeoutError) as exc:
            log.warning("recent turns unavailable for this turn: %s", type(exc).__name__)
            return []

    def _merge(self, past: list[PastTurn], latest: list[PastTurn]) -> list[tuple[str, str]]:
        """Both sources' turns, each once (by id), oldest first, the last ``history_turns``."""
        seen = {t.id for t in past if t.id}
        merged = past + [t for t in latest if t.id not in seen]
        merged.sort(key=lambda t: t.created_at)
        return [(t.query, t.answer) for t in merged[-self._history_turns :]] if merged else []
