"""A student's own chatrooms and the turns in them, for the chat page's sidebar.

Every query is keyed by the owner's ``user_id`` (rooms are ``(user_id, chatroom_id)``), so a
room id guessed or copied from another student finds nothing: isolation is in the ``WHERE``
clause, not in a check after the fact.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.db.records import UtcDatetime
from app.db.repository import ROOMS, TURNS

TITLE_CHARS = 80


class RoomSummary(BaseModel):
    chatroom_id: str
    course_id: str | None
    title: str  # the room's first question, shortened
    turns: int
    created_at: UtcDatetime
    last_activity: UtcDatetime | None


class RoomTurn(BaseModel):
    turn_id: str
    query: str
    answer: str
    sources: list[dict[str, Any]]
    response_source: str
    cached: bool
    personalized: bool
    model: str | None
    input_tokens: int
    output_tokens: int
    cost_usd: float
    latency_ms: float
    first_chunk_ms: float | None
    status: str
    created_at: UtcDatetime


class RoomReader:
    def __init__(self, engine: AsyncEngine, timeout: float) -> None:
        self._engine = engine
        self._timeout = timeout

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[AsyncConnection]:
        async with asyncio.timeout(self._timeout), self._engine.connect() as connection:
            yield connection

    async def rooms(
        self, user_id: str, course_id: str | None = None, limit: int = 100
    ) -> list[RoomSummary]:
        """The user's rooms, the most recently used first."""
        earlier = TURNS.alias("first_turn")
        first_query = (
            select(earlier.c.query)
            .where(earlier.c.chatroom_pk == ROOMS.c.id)
            .order_by(earlier.c.created_at, earlier.c.id)
            .limit(1)
            .correlate(ROOMS)
            .scalar_subquery()
        )
        last = func.max(TURNS.c.created_at)
        statement = (
            select(
                ROOMS.c.chatroom_id,
                ROOMS.c.course_id,
                ROOMS.c.created_at,
                func.count(TURNS.c.id).label("turns"),
                last.label("last_activity"),
                first_query.label("title"),
            )
            .select_from(ROOMS.outerjoin(TURNS, TURNS.c.chatroom_pk == ROOMS.c.id))
            .where(ROOMS.c.user_id == user_id)
            .group_by(ROOMS.c.id, ROOMS.c.chatroom_id, ROOMS.c.course_id, ROOMS.c.created_at)
            .order_by(func.coalesce(last, ROOMS.c.created_at).desc())
            .limit(limit)
        )
        if course_id is not None:
            statement = statement.where(ROOMS.c.course_id == course_id)
        async with self._reading() as connection:
            rows = (await connection.execute(statement)).mappings().all()
        return [
            RoomSummary(
                chatroom_id=row["chatroom_id"],
                course_id=row["course_id"],
                title=_shorten(row["title"] or row["chatroom_id"]),
                turns=int(row["turns"]),
                created_at=row["created_at"],
                last_activity=_as_datetime(row["last_activity"]),
            )
            for row in rows
        ]

    async def turns(
        self, user_id: str, chatroom_id: str, limit: int = 200
    ) -> list[RoomTurn] | None:
        """The room's turns, oldest first; ``None`` when this user has no such room."""
        room = select(ROOMS.c.id).where(
            ROOMS.c.user_id == user_id, ROOMS.c.chatroom_id == chatroom_id
        )
        statement = (
            select(TURNS)
            .where(TURNS.c.chatroom_pk == room.scalar_subquery(), TURNS.c.user_id == user_id)
            .order_by(TURNS.c.created_at.desc(), TURNS.c.id.desc())
            .limit(limit)
        )
        async with self._reading() as connection:
            exists = (await connection.execute(room)).first()
            if exists is None:
                return None
            rows = (await connection.execute(statement)).mappings().all()
        return [RoomTurn(turn_id=row["id"], **_turn_fields(row)) for row in reversed(rows)]


def _turn_fields(row: Any) -> dict[str, Any]:
    names = set(RoomTurn.model_fields) - {"turn_id"}
    return {name: row[name] for name in names}


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= TITLE_CHARS else text[: TITLE_CHARS - 1].rstrip() + "…"


def _as_datetime(value: Any) -> datetime | None:
    """``max()`` over a timestamp comes back as text on SQLite and as a datetime on PostgreSQL."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))
