"""The reads behind course insights: a course's turns and downvotes in a time window.

Plain column selects that mean the same on SQLite and PostgreSQL; the grouping (topics, pages,
gaps) happens in Python, where the JSON ``sources`` column reads the same on both.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select

from app.db.access import Database
from app.db.feedback_store import FEEDBACK
from app.db.records import UtcDatetime
from app.db.repository import TURNS


class TurnRow(BaseModel):
    id: str
    user_id: str
    query: str
    response_source: str
    sources: list[dict[str, Any]]
    status: str
    cached: bool
    latency_ms: float
    cost_usd: float
    created_at: UtcDatetime


class DownvoteRow(BaseModel):
    turn_id: str
    user_id: str
    rating: str
    comment: str | None
    cache_key: str | None
    updated_at: UtcDatetime
    query: str
    answer: str
    response_source: str
    asked_by: str


class InsightQueries:
    def __init__(self, database: Database, limit: int) -> None:
        self._db = database
        self._limit = limit

    async def turns(self, course_id: str, start: datetime, end: datetime) -> list[TurnRow]:
        """The course's turns in ``[start, end)``, newest first, at most the configured limit."""
        columns = [TURNS.c[name] for name in TurnRow.model_fields]
        statement = (
            select(*columns)
            .where(
                TURNS.c.course_id == course_id,
                TURNS.c.created_at >= start,
                TURNS.c.created_at < end,
            )
            .order_by(TURNS.c.created_at.desc(), TURNS.c.id)
            .limit(self._limit)
        )
        async with self._db.reading() as connection:
            rows = (await connection.execute(statement)).mappings().all()
        return [TurnRow.model_validate(dict(row)) for row in rows]

    async def ratings(self, course_id: str, start: datetime, end: datetime) -> list[DownvoteRow]:
        """Ratings (up and down) given in ``[start, end)`` with the question and answer rated."""
        statement = (
            select(
                FEEDBACK.c.turn_id,
                FEEDBACK.c.user_id,
                FEEDBACK.c.rating,
                FEEDBACK.c.comment,
                FEEDBACK.c.cache_key,
                FEEDBACK.c.updated_at,
                TURNS.c.query,
                TURNS.c.answer,
                TURNS.c.response_source,
                TURNS.c.user_id.label("asked_by"),
            )
            .join(TURNS, TURNS.c.id == FEEDBACK.c.turn_id)
            .where(
                FEEDBACK.c.course_id == course_id,
                FEEDBACK.c.updated_at >= start,
                FEEDBACK.c.updated_at < end,
            )
            .order_by(FEEDBACK.c.updated_at.desc())
            .limit(self._limit)
        )
        async with self._db.reading() as connection:
            rows = (await connection.execute(statement)).mappings().all()
        return [DownvoteRow.model_validate(dict(row)) for row in rows]
