"""Lecturers' curated answers in the database, the one place they live.

They are kept apart from the chunk index on purpose: re-ingesting or dropping a course's material
never touches them. The question's embedding is stored with the name of the model that made it, so
a change of embedding model re-embeds instead of comparing vectors of two models.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import Table, delete, select, update

from app.db.access import Database
from app.db.models import CuratedAnswerRow
from app.db.records import UtcDatetime

CURATED: Table = CuratedAnswerRow.__table__  # type: ignore[attr-defined]
CuratedStatus = Literal["active", "needs_review"]


class CuratedRecord(BaseModel):
    id: str
    course_id: str
    question: str
    question_key: str
    answer: str
    references: list[dict[str, Any]]
    material_hashes: dict[str, str]
    status: CuratedStatus
    review_reason: str | None
    vector: list[float] | None
    vector_model: str | None
    source_turn_id: str | None
    created_by: str
    updated_by: str
    created_at: UtcDatetime
    updated_at: UtcDatetime


_COLUMNS = [CURATED.c[name] for name in CuratedRecord.model_fields]
_KEEP_ON_REPLACE = {"id", "course_id", "question_key", "created_by", "created_at"}


class CuratedStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def put(self, record: CuratedRecord) -> tuple[CuratedRecord, bool]:
        """Insert, or replace the course's answer to the same question; (stored, created)."""
        values = record.model_dump()
        insert = self._db.insert(CURATED).values(**values)
        changes = {k: insert.excluded[k] for k in values if k not in _KEEP_ON_REPLACE}
        statement = insert.on_conflict_do_update(
            index_elements=["course_id", "question_key"], set_=changes
        ).returning(*_COLUMNS)
        async with self._db.transaction() as connection:
            row = (await connection.execute(statement)).mappings().one()
        stored = CuratedRecord.model_validate(dict(row))
        return stored, stored.id == record.id

    async def replace(self, record: CuratedRecord) -> CuratedRecord | None:
        """Overwrite the row with ``record.id`` in its course; None when there is none."""
        values = record.model_dump(exclude=_KEEP_ON_REPLACE - {"question_key"})
        statement = (
            update(CURATED)
            .where(CURATED.c.id == record.id, CURATED.c.course_id == record.course_id)
            .values(**values)
            .returning(*_COLUMNS)
        )
        async with self._db.transaction() as connection:
            row = (await connection.execute(statement)).mappings().first()
        return None if row is None else CuratedRecord.model_validate(dict(row))

    async def get(self, course_id: str, answer_id: str) -> CuratedRecord | None:
        statement = select(*_COLUMNS).where(
            CURATED.c.id == answer_id, CURATED.c.course_id == course_id
        )
        async with self._db.reading() as connection:
            row = (await connection.execute(statement)).mappings().first()
        return None if row is None else CuratedRecord.model_validate(dict(row))

    async def for_course(
        self, course_id: str, status: CuratedStatus | None = None
    ) -> list[CuratedRecord]:
        statement = select(*_COLUMNS).where(CURATED.c.course_id == course_id)
        if status is not None:
            statement = statement.where(CURATED.c.status == status)
        statement = statement.order_by(CURATED.c.created_at, CURATED.c.id)
        async with self._db.reading() as connection:
            rows = (await connection.execute(statement)).mappings().all()
        return [CuratedRecord.model_validate(dict(row)) for row in rows]

    async def delete(self, course_id: str, answer_id: str) -> bool:
        statement = (
            delete(CURATED)
            .where(CURATED.c.id == answer_id, CURATED.c.course_id == course_id)
            .returning(CURATED.c.id)
        )
        async with self._db.transaction() as connection:
            return (await connection.execute(statement)).first() is not None

    async def flag(self, course_id: str, answer_id: str, reason: str) -> None:
        statement = (
            update(CURATED)
            .where(CURATED.c.id == answer_id, CURATED.c.course_id == course_id)
            .values(status="needs_review", review_reason=reason)
        )
        async with self._db.transaction() as connection:
            await connection.execute(statement)

    async def set_vector(self, answer_id: str, vector: list[float], model: str) -> None:
        statement = (
            update(CURATED)
            .where(CURATED.c.id == answer_id)
            .values(vector=vector, vector_model=model)
        )
        async with self._db.transaction() as connection:
            await connection.execute(statement)
