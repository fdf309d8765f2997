"""A course's recent answers for its lecturers, each with its ratings: what the dashboard lists so
a lecturer can turn a good answer into a curated one.

Two plain selects (the turns, then the rating counts of exactly those turns) that mean the same
on SQLite and PostgreSQL; always filtered by the one course asked for.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, select

from app.db.access import Database
from app.db.feedback_store import FEEDBACK
from app.db.records import UtcDatetime
from app.db.repository import TURNS


class AnsweredTurn(BaseModel):
    id: str
    user_id: str
    query: str
    answer: str
    sources: list[dict[str, Any]]
    response_source: str
    created_at: UtcDatetime
    upvotes: int = 0
    downvotes: int = 0


_COLUMNS = ["id", "user_id", "query", "answer", "sources", "response_source", "created_at"]


class CourseTurns:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def answered(
        self, course_id: str, start: datetime, end: datetime, limit: int
    ) -> list[AnsweredTurn]:
        """Completed turns of ``course_id`` in ``[start, end)`` with an answer, newest first."""
        statement = (
            select(*[TURNS.c[name] for name in _COLUMNS])
            .where(
                TURNS.c.course_id == course_id,
                TURNS.c.status == "completed",
                TURNS.c.answer != "",
                TURNS.c.created_at >= start,
                TURNS.c.created_at < end,
            )
            .order_by(TURNS.c.created_at.desc(), TURNS.c.id)
            .limit(limit)
        )
        async with self._db.reading() as connection:
            rows = [dict(r) for r in (await connection.execute(statement)).mappings().all()]
            counts: dict[tuple[str, str], int] = {}
            if rows:
                ratings = (
                    select(FEEDBACK.c.turn_id, FEEDBACK.c.rating, func.count())
                    .where(
                        FEEDBACK.c.course_id == course_id,
                        FEEDBACK.c.turn_id.in_([r["id"] for r in rows]),
                    )
                    .group_by(FEEDBACK.c.turn_id, FEEDBACK.c.rating)
                )
                for turn_id, rating, n in (await connection.execute(ratings)).all():
                    counts[(str(turn_id), str(rating))] = int(n)
        return [
            AnsweredTurn.model_validate(
                {
                    **row,
                    "upvotes": counts.get((row["id"], "up"), 0),
                    "downvotes": counts.get((row["id"], "down"), 0),
                }
            )
            for row in rows
        ]
