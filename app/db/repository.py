"""Every query the server makes, behind one class that takes its engine as an argument.

Writes use ``INSERT … ON CONFLICT`` (PostgreSQL and SQLite spell it the same way) instead of
"select, then insert", because two workers — or the outbox replaying a turn the request already
stored — may race on the same key: the database, not our code, decides who wins, and the loser
inserts nothing. That is what makes :meth:`ChatRepository.record_turn` safe to retry.

Each call runs under ``asyncio.timeout`` so a slow or unreachable database turns into a
``TimeoutError`` the caller can handle, never a request that hangs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Table, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.db.models import Chatroom, Student, Turn
from app.db.records import PastTurn, StudentProfile, TurnRecord, utcnow

STUDENTS: Table = Student.__table__  # type: ignore[attr-defined]
ROOMS: Table = Chatroom.__table__  # type: ignore[attr-defined]
TURNS: Table = Turn.__table__  # type: ignore[attr-defined]

_PROFILE_COLUMNS = tuple(StudentProfile.model_fields)

Upsert = postgresql.Insert | sqlite.Insert


class UnsupportedDatabaseError(ValueError):
    """Only PostgreSQL and SQLite have the ``ON CONFLICT`` clause the repository relies on."""


class ChatRepository:
    """Profiles, chatrooms and turns. Safe to share between concurrent requests."""

    def __init__(self, engine: AsyncEngine, timeout: float) -> None:
        if engine.dialect.name not in ("postgresql", "sqlite"):
            raise UnsupportedDatabaseError(
                f"DATABASE_URL uses {engine.dialect.name!r}; use PostgreSQL or SQLite."
            )
        self._engine = engine
        self._timeout = timeout

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    def _insert(self, table: Table) -> Upsert:
        if self._engine.dialect.name == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncConnection]:
        async with asyncio.timeout(self._timeout), self._engine.begin() as connection:
            yield connection

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[AsyncConnection]:
        async with asyncio.timeout(self._timeout), self._engine.connect() as connection:
            yield connection

    # --- students ------------------------------------------------------------------------------

    async def get_profile(self, user_id: str) -> StudentProfile | None:
        """``None`` when the student is unknown; a student who only chatted has an empty profile."""
        columns = [STUDENTS.c[name] for name in _PROFILE_COLUMNS]
        async with self._reading() as connection:
            result = await connection.execute(select(*columns).where(STUDENTS.c.user_id == user_id))
            row = result.mappings().first()
        return None if row is None else StudentProfile.model_validate(dict(row))

    async def upsert_profile(self, user_id: str, profile: StudentProfile) -> StudentProfile:
        """Store ``profile`` whole (a field left out is cleared) and return what was stored."""
        now = utcnow()
        fields = profile.model_dump(include=set(_PROFILE_COLUMNS))
        insert = self._insert(STUDENTS).values(
            user_id=user_id, created_at=now, updated_at=now, **fields
        )
        changes = {name: insert.excluded[name] for name in (*_PROFILE_COLUMNS, "updated_at")}
        statement = insert.on_conflict_do_update(index_elements=["user_id"], set_=changes)
        returning = statement.returning(*[STUDENTS.c[name] for name in _PROFILE_COLUMNS])
        async with self._transaction() as connection:
            row = (await connection.execute(returning)).mappings().one()
        return StudentProfile.model_validate(dict(row))

    # --- turns ---------------------------------------------------------------------------------

    async def recent_turns(
        self, user_id: str, chatroom_id: str | None, limit: int
    ) -> list[PastTurn]:
        """The last ``limit`` completed turns of this user's room, oldest first.

        The room is looked up by ``(user_id, chatroom_id)``, so another user's room id finds
        nothing. Without a room there is no conversation to continue, hence no history.
        """
        if chatroom_id is None or limit <= 0:
            return []
        statement = (
            select(TURNS.c.id, TURNS.c.query, TURNS.c.answer, TURNS.c.created_at)
            .join(ROOMS, TURNS.c.chatroom_pk == ROOMS.c.id)
            .where(
                ROOMS.c.user_id == user_id,
                ROOMS.c.chatroom_id == chatroom_id,
                TURNS.c.user_id == user_id,
                TURNS.c.status == "completed",
            )
            .order_by(TURNS.c.created_at.desc(), TURNS.c.id.desc())
            .limit(limit)
        )
        async with self._reading() as connection:
            rows = (await connection.execute(statement)).mappings().all()
        return [PastTurn.model_validate(dict(row)) for row in reversed(rows)]

    async def record_turn(self, turn: TurnRecord) -> bool:
        """Store ``turn`` with its student and room; ``False`` when its id was already stored."""
        now = utcnow()
        async with self._transaction() as connection:
            # The first statement writes, so SQLite takes its write lock up front (and waits
            # for it under busy_timeout) instead of failing to upgrade a read snapshot later.
            await connection.execute(
                self._insert(STUDENTS)
                .values(user_id=turn.user_id, created_at=now, updated_at=now)
                .on_conflict_do_nothing(index_elements=["user_id"])
            )
            room_pk = None
            if turn.chatroom_id is not None:
                room_pk = await self._room_pk(connection, turn, now)
            values: dict[str, Any] = turn.model_dump(exclude={"chatroom_id"})
            statement = (
                self._insert(TURNS)
                .values(**values, chatroom_pk=room_pk)
                .on_conflict_do_nothing(index_elements=["id"])
                .returning(TURNS.c.id)
            )
            inserted = (await connection.execute(statement)).first()
        return inserted is not None

    async def _room_pk(self, connection: AsyncConnection, turn: TurnRecord, now: datetime) -> int:
        await connection.execute(
            self._insert(ROOMS)
            .values(
                user_id=turn.user_id,
                chatroom_id=turn.chatroom_id,
                course_id=turn.course_id,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["user_id", "chatroom_id"])
        )
        found = await connection.execute(
            select(ROOMS.c.id).where(
                ROOMS.c.user_id == turn.user_id, ROOMS.c.chatroom_id == turn.chatroom_id
            )
        )
        return int(found.scalar_one())

    # --- operations ----------------------------------------------------------------------------

    async def count_turns(self, user_id: str | None = None) -> int:
        statement = select(func.count()).select_from(TURNS)
        if user_id is not None:
            statement = statement.where(TURNS.c.user_id == user_id)
        async with self._reading() as connection:
            return int((await connection.execute(statement)).scalar_one())

    async def ping(self) -> None:
        """Raise unless the database answers within the timeout (for readiness checks)."""
        async with self._reading() as connection:
            await connection.execute(text("SELECT 1"))
