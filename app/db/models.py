"""The tables, declared once for the repository and for the migration drift check.

Types are spelled out (``String(n)``, ``JSON``, timezone-aware ``UTCDateTime``) instead of left to
SQLModel's inference, so the hand-written migration in ``migrations/versions`` can state the same
columns and ``tests/integration/test_db.py`` can prove the two never drift. Everything here works on
SQLite and PostgreSQL alike.

A chatroom belongs to one user: the room row is keyed by ``(user_id, chatroom_id)``, so two students
who happen to send the same ``chatroom_id`` string get two rooms and never see each other's turns.
Turns reference their room by its integer key (``chatroom_pk``); the client's ``chatroom_id``
string lives only on the room row. The index ``(user_id, chatroom_pk, created_at)`` serves the
history query and, through its leading column, every per-user lookup, so ``user_id`` gets no
separate index.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel, UTCDateTime

from app.db.records import (
    CACHE_KEY_LEN,
    ERROR_CODE_LEN,
    ID_LEN,
    LANGUAGE_LEN,
    LEVEL_LEN,
    MODEL_LEN,
    PROGRAM_LEN,
    RATING_LEN,
    SOURCE_LEN,
    STATUS_LEN,
    TURN_ID_LEN,
    utcnow,
)

metadata = SQLModel.metadata


class Student(SQLModel, table=True):
    __tablename__ = "students"

    user_id: str = Field(primary_key=True, sa_type=String(ID_LEN))
    level: str | None = Field(default=None, sa_type=String(LEVEL_LEN))
    preferred_language: str | None = Field(default=None, sa_type=String(LANGUAGE_LEN))
    study_program: str | None = Field(default=None, sa_type=String(PROGRAM_LEN))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())


class Chatroom(SQLModel, table=True):
    __tablename__ = "chatrooms"
    __table_args__ = (
        UniqueConstraint("user_id", "chatroom_id", name="uq_chatrooms_user_room"),
        ForeignKeyConstraint(
            ["user_id"], ["students.user_id"], name="fk_chatrooms_user", ondelete="CASCADE"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: str = Field(sa_type=String(ID_LEN))
    chatroom_id: str = Field(sa_type=String(ID_LEN))
    course_id: str | None = Field(default=None, sa_type=String(ID_LEN))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())


class Turn(SQLModel, table=True):
    __tablename__ = "turns"
    __table_args__ = (
        Index("ix_turns_user_room_created", "user_id", "chatroom_pk", "created_at"),
        Index("ix_turns_created_at", "created_at"),
        Index("ix_turns_course_created", "course_id", "created_at"),  # the dashboard's range scans
        CheckConstraint("status IN ('completed', 'cancelled', 'failed')", name="ck_turns_status"),
        ForeignKeyConstraint(
            ["chatroom_pk"], ["chatrooms.id"], name="fk_turns_chatroom", ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["user_id"], ["students.user_id"], name="fk_turns_user", ondelete="CASCADE"
        ),
    )

    id: str = Field(primary_key=True, sa_type=String(TURN_ID_LEN))
    chatroom_pk: int | None = None
    user_id: str = Field(sa_type=String(ID_LEN))
    course_id: str | None = Field(default=None, sa_type=String(ID_LEN))
    query: str = Field(sa_type=Text())
    answer: str = Field(sa_type=Text())
    sources: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON())
    cached: bool = False
    personalized: bool = False
    response_source: str = Field(sa_type=String(SOURCE_LEN))
    model: str | None = Field(default=None, sa_type=String(MODEL_LEN))
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    status: str = Field(sa_type=String(STATUS_LEN))
    language: str | None = Field(default=None, sa_type=String(LANGUAGE_LEN))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())
    error_code: str | None = Field(default=None, sa_type=String(ERROR_CODE_LEN))
    cache_key: str | None = Field(default=None, sa_type=String(CACHE_KEY_LEN))
    first_chunk_ms: float | None = None  # time to the first chat_chunk; None: none was sent


# --- the teaching loop: answer feedback and lecturers' curated answers ---------------------------


class AnswerFeedback(SQLModel, table=True):
    """One rating per rater and turn (rating again replaces it); deleted with its turn."""

    __tablename__ = "feedback"
    __table_args__ = (
        UniqueConstraint("turn_id", "user_id", name="uq_feedback_turn_user"),
        Index("ix_feedback_course_created", "course_id", "created_at"),
        CheckConstraint("rating IN ('up', 'down')", name="ck_feedback_rating"),
        ForeignKeyConstraint(
            ["turn_id"], ["turns.id"], name="fk_feedback_turn", ondelete="CASCADE"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    turn_id: str = Field(sa_type=String(TURN_ID_LEN))
    user_id: str = Field(sa_type=String(ID_LEN))
    course_id: str | None = Field(default=None, sa_type=String(ID_LEN))
    rating: str = Field(sa_type=String(RATING_LEN))
    comment: str | None = Field(default=None, sa_type=Text())
    cache_key: str | None = Field(default=None, sa_type=String(CACHE_KEY_LEN))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())


class CuratedAnswerRow(SQLModel, table=True):
    """A lecturer's answer to a recurring question of one course; outlives re-ingestion."""

    __tablename__ = "curated_answers"
    __table_args__ = (
        UniqueConstraint("course_id", "question_key", name="uq_curated_course_question"),
        CheckConstraint("status IN ('active', 'needs_review')", name="ck_curated_status"),
    )

    id: str = Field(primary_key=True, sa_type=String(TURN_ID_LEN))
    course_id: str = Field(sa_type=String(ID_LEN))
    question: str = Field(sa_type=Text())
    question_key: str = Field(sa_type=String(TURN_ID_LEN))
    answer: str = Field(sa_type=Text())
    references: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON())
    material_hashes: dict[str, Any] = Field(default_factory=dict, sa_type=JSON())
    status: str = Field(sa_type=String(STATUS_LEN))
    review_reason: str | None = Field(default=None, sa_type=Text())
    vector: list[float] | None = Field(default=None, sa_type=JSON())
    vector_model: str | None = Field(default=None, sa_type=String(MODEL_LEN))
    source_turn_id: str | None = Field(default=None, sa_type=String(TURN_ID_LEN))
    created_by: str = Field(sa_type=String(ID_LEN))
    updated_by: str = Field(sa_type=String(ID_LEN))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())
