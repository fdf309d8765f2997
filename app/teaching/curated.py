"""Lecturers' curated answers: write, edit, list, delete, and flag when their material changes.

Saving resolves the references (see :mod:`app.teaching.references`), embeds the question the way
the turn path embeds a student's question (normalized, query prefix), and bumps the course's
curated version in Redis, so every worker's matcher reloads before the next turn. The same
question saved twice replaces the first answer (``PUT`` is idempotent per question).
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from pydantic import BaseModel, Field

from app.db.curated_store import CuratedRecord, CuratedStatus, CuratedStore
from app.db.records import utcnow
from app.services.lexical import normalize_question
from app.teaching.references import MaterialPages, Reference, ReferenceIn, changed_materials

Embed = Callable[[str], Awaitable[list[float]]]


class CuratedAnswerIn(BaseModel):
    question: str = Field(min_length=1, max_length=1000)
    answer: str = Field(min_length=1, max_length=8000)
    references: list[ReferenceIn] = Field(default_factory=list, max_length=10)


class CuratedAnswerPatch(BaseModel):
    """Fields left out stay. Any edit, or ``reviewed: true`` alone, clears a review flag."""

    question: str | None = Field(default=None, min_length=1, max_length=1000)
    answer: str | None = Field(default=None, min_length=1, max_length=8000)
    references: list[ReferenceIn] | None = Field(default=None, max_length=10)
    reviewed: bool = False


class CuratedAnswer(BaseModel):
    id: str
    course_id: str
    question: str
    answer: str
    references: list[Reference]
    status: CuratedStatus = Field(description="`needs_review`: not served until reviewed")
    review_reason: str | None
    source_turn_id: str | None
    created_by: str
    updated_by: str
    created_at: Any
    updated_at: Any

    @classmethod
    def of(cls, record: CuratedRecord) -> CuratedAnswer:
        return cls(
            **record.model_dump(exclude={"references", "question_key", "vector", "vector_model"}),
            references=[Reference.model_validate(r) for r in record.references],
        )


def question_key(question: str) -> str:
    return hashlib.sha256(normalize_question(question).encode()).hexdigest()[:32]


class CuratedAnswers:
    def __init__(
        self,
        store: CuratedStore,
        pages: MaterialPages,
        embed: Embed,
        model_name: str,
        client: aioredis.Redis,
        key_prefix: str,
        timeout: float,
    ) -> None:
        self._store = store
        self._pages = pages
        self._embed = embed
        self._model = model_name
        self._client = client
        self._prefix = key_prefix
        self._timeout = timeout

    @property
    def store(self) -> CuratedStore:
        return self._store

    @property
    def model_name(self) -> str:
        return self._model

    def version_key(self, course_id: str) -> str:
        return f"{self._prefix}:curated:version:{course_id}"

    async def version(self, course_id: str) -> str:
        async with asyncio.timeout(self._timeout):
            value = await self._client.get(self.version_key(course_id))
        return value.decode() if isinstance(value, bytes) else str(value or "0")

    async def _bump(self, course_id: str) -> None:
        async with asyncio.timeout(self._timeout):
            await self._client.incr(self.version_key(course_id))

    async def embed(self, question: str) -> list[float]:
        return await self._embed(normalize_question(question))

    async def _record(
        self,
        course_id: str,
        body: CuratedAnswerIn,
        user_id: str,
        answer_id: str | None = None,
        source_turn_id: str | None = None,
    ) -> CuratedRecord:
        references = await self._pages.resolve(course_id, body.references)
        material_ids = sorted({r.material_id for r in references})
        now = utcnow()
        return CuratedRecord(
            id=answer_id or uuid.uuid4().hex,
            course_id=course_id,
            question=body.question.strip(),
            question_key=question_key(body.question),
            answer=body.answer.strip(),
            references=[r.model_dump() for r in references],
            material_hashes=await self._pages.hashes(course_id, material_ids),
            status="active",
            review_reason=None,
            vector=await self.embed(body.question),
            vector_model=self._model,
            source_turn_id=source_turn_id,
            created_by=user_id,
            updated_by=user_id,
            created_at=now,
            updated_at=now,
        )

    async def put(
        self, course_id: str, body: CuratedAnswerIn, user_id: str, source_turn_id: str | None = None
    ) -> tuple[CuratedAnswer, bool]:
        record = await self._record(course_id, body, user_id, source_turn_id=source_turn_id)
        stored, created = await self._store.put(record)
        await self._bump(course_id)
        return CuratedAnswer.of(stored), created

    async def edit(
        self, course_id: str, answer_id: str, patch: CuratedAnswerPatch, user_id: str
    ) -> CuratedAnswer | None:
        current = await self._store.get(course_id, answer_id)
        if current is None:
            return None
        body = CuratedAnswerIn(
            question=patch.question or current.question,
            answer=patch.answer or current.answer,
            references=patch.references
            if patch.references is not None
            else [ReferenceIn.model_validate(r) for r in _as_inputs(current.references)],
        )
        if not (patch.model_fields_set - {"reviewed"}) and not patch.reviewed:
            return CuratedAnswer.of(current)
        # An edit is a review: the answer is checked against today's material again.
        record = await self._record(
            course_id, body, user_id, answer_id, source_turn_id=current.source_turn_id
        )
        record.created_by, record.created_at = current.created_by, current.created_at
        stored = await self._store.replace(record)
        await self._bump(course_id)
        return None if stored is None else CuratedAnswer.of(stored)

    async def delete(self, course_id: str, answer_id: str) -> bool:
        deleted = await self._store.delete(course_id, answer_id)
        if deleted:
            await self._bump(course_id)
        return deleted

    async def get(self, course_id: str, answer_id: str) -> CuratedAnswer | None:
        await self.refresh_flags(course_id)
        record = await self._store.get(course_id, answer_id)
        return None if record is None else CuratedAnswer.of(record)

    async def list(self, course_id: str) -> list[CuratedAnswer]:
        await self.refresh_flags(course_id)
        return [CuratedAnswer.of(r) for r in await self._store.for_course(course_id)]

    async def refresh_flags(self, course_id: str) -> int:
        """Flag every active answer whose referenced material changed; return how many."""
        current = await self._pages.files(course_id)
        flagged = 0
        for record in await self._store.for_course(course_id, "active"):
            changes = changed_materials(record.material_hashes, current)
            if not changes:
                continue
            reason = "; ".join(
                f"material {m!r} was {what} since this answer was saved" for m, what in changes
            )
            await self._store.flag(course_id, record.id, reason)
            flagged += 1
        if flagged:
            await self._bump(course_id)
        return flagged


def _as_inputs(references: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stored (resolved) references back into what a lecturer sends."""
    return [
        {"material_id": r["material_id"], "page": r.get("page"), "page_label": None}
        if r.get("page") is not None
        else {"material_id": r["material_id"]}
        for r in references
    ]
