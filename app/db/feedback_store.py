"""Ratings of answers, stored next to the turns they rate.

A rater has one rating per turn: rating again (up after down, a new comment) replaces it, so a
double click or a resent frame never counts twice. The turn is read first, in the same
transaction, so the caller can check ownership against what the database holds, not against
what a client claims.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import Table, func, select

from app.db.access import Database
from app.db.models import AnswerFeedback
from app.db.records import UtcDatetime, utcnow
from app.db.repository import TURNS

FEEDBACK: Table = AnswerFeedback.__table__  # type: ignore[attr-defined]
Rating = Literal["up", "down"]


class TurnRef(BaseModel):
    """What feedback and curation need to know about a stored turn."""

    id: str
    user_id: str
    course_id: str | None
    query: str
    answer: str
    sources: list[dict[str, Any]]
    response_source: str
    status: str
    cache_key: str | None
    language: str | None
    created_at: UtcDatetime


class StoredFeedback(BaseModel):
    turn_id: str
    user_id: str
    course_id: str | None
    rating: Rating
    comment: str | None
    cache_key: str | None
    created_at: UtcDatetime
    updated_at: UtcDatetime


_TURN_COLUMNS = [TURNS.c[name] for name in TurnRef.model_fields]


class FeedbackStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def turn(self, turn_id: str) -> TurnRef | None:
        async with self._db.reading() as connection:
            row = (
                (await connection.execute(select(*_TURN_COLUMNS).where(TURNS.c.id == turn_id)))
                .mappings()
                .first()
            )
        return None if row is None else TurnRef.model_validate(dict(row))

    async def rate(
        self, turn: TurnRef, user_id: str, rating: Rating, comment: str | None
    ) -> StoredFeedback:
        """Store (or replace) ``user_id``'s rating of ``turn``; return what is stored."""
        now = utcnow()
        insert = self._db.insert(FEEDBACK).values(
            turn_id=turn.id,
            user_id=user_id,
            course_id=turn.course_id,
            rating=rating,
            comment=comment,
            cache_key=turn.cache_key,
            created_at=now,
            updated_at=now,
        )
        statement = insert.on_conflict_do_update(
            index_elements=["turn_id", "user_id"],
            set_={
                "rating": insert.excluded.rating,
                "comment": insert.excluded.comment,
                "updated_at": insert.excluded.updated_at,
            },
        ).returning(*[FEEDBACK.c[name] for name in StoredFeedback.model_fields])
        async with self._db.transaction() as connection:
            row = (await connection.execute(statement)).mappings().one()
        return StoredFeedback.model_validate(dict(row))

    async def for_cache_key(self, cache_key: str) -> list[StoredFeedback]:
        """Every rating of answers served from (or stored as) one cache entry, newest first."""
        columns = [FEEDBACK.c[name] for name in StoredFeedback.model_fields]
        statement = (
            select(*columns)
            .where(FEEDBACK.c.cache_key == cache_key)
            .order_by(FEEDBACK.c.updated_at.desc())
        )
        async with self._db.reading() as connection:
            rows = (await connection.execute(statement)).mappings().all()
        return [StoredFeedback.model_validate(dict(row)) for row in rows]

    async def count(self, course_id: str | None = None) -> int:
        statement = select(func.count()).select_from(FEEDBACK)
        if course_id is not None:
            statement = statement.where(FEEDBACK.c.course_id == course_id)
        async with self._db.reading() as connection:
            return int((await connection.execute(statement)).scalar_one())
