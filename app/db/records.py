"""What the rest of the app reads from and hands to the database: plain pydantic models, not rows.

Keeping ORM rows inside :mod:`app.db` means services, the WebSocket layer and the outbox never hold
a session-bound object, and a :class:`TurnRecord` can travel through Redis as JSON and come back
identical. String bounds match the column sizes in :mod:`app.db.models`, so a value that would not
fit is rejected here, before it can poison the outbox with a row the database refuses forever.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

# Column sizes, shared with app.db.models and the migration.
ID_LEN = 128
TURN_ID_LEN = 64
LEVEL_LEN = 32
LANGUAGE_LEN = 16
PROGRAM_LEN = 128
SOURCE_LEN = 32
MODEL_LEN = 128
STATUS_LEN = 16
ERROR_CODE_LEN = 64
CACHE_KEY_LEN = 256
RATING_LEN = 8

TurnStatus = Literal["completed", "cancelled", "failed"]


def new_turn_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


def _as_utc(value: datetime) -> datetime:
    """Naive values are taken as UTC (SQLite returns them so); aware ones are converted."""
    return value.replace(tzinfo=UTC) if value.utcoffset() is None else value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]


class StudentProfile(BaseModel):
    """What personalization knows about a student. Every field is optional: PUT replaces all."""

    model_config = ConfigDict(str_strip_whitespace=True)

    level: str | None = Field(
        default=None, min_length=1, max_length=LEVEL_LEN, examples=["beginner"]
    )
    preferred_language: str | None = Field(
        default=None,
        max_length=LANGUAGE_LEN,
        pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$",
        description='A language tag such as "id", "en" or "en-US".',
        examples=["id"],
    )
    study_program: str | None = Field(
        default=None, min_length=1, max_length=PROGRAM_LEN, examples=["Informatics"]
    )


class PastTurn(BaseModel):
    """One earlier exchange of a chatroom, as the history prompt needs it."""

    id: str | None = None  # the turn id (to merge the database's turns with the recent ones)
    query: str
    answer: str
    created_at: UtcDatetime


class TurnRecord(BaseModel):
    """One finished turn. ``id`` is the idempotency key: storing it twice stores it once."""

    id: str = Field(
        default_factory=new_turn_id,
        min_length=1,
        max_length=TURN_ID_LEN,
        pattern=r"^[A-Za-z0-9_-]+$",
    )
    user_id: str = Field(min_length=1, max_length=ID_LEN)
    course_id: str | None = Field(default=None, max_length=ID_LEN)
    chatroom_id: str | None = Field(default=None, min_length=1, max_length=ID_LEN)
    query: str
    answer: str
    sources: list[dict[str, Any]] = Field(default_factory=list)
    cached: bool = False
    personalized: bool = False
    response_source: str = Field(max_length=SOURCE_LEN)
    model: str | None = Field(default=None, max_length=MODEL_LEN)
    input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)
    total_tokens: int = Field(default=0, ge=0)
    cost_usd: float = Field(default=0.0, ge=0.0)
    latency_ms: float = Field(default=0.0, ge=0.0)
    status: TurnStatus = "completed"
    language: str | None = Field(default=None, max_length=LANGUAGE_LEN)
    created_at: UtcDatetime = Field(default_factory=utcnow)
    error_code: str | None = Field(default=None, max_length=ERROR_CODE_LEN)
    # the semantic-cache entry the answer came from or went into (a downvote holds it for review)
    cache_key: str | None = Field(default=None, max_length=CACHE_KEY_LEN)
    first_chunk_ms: float | None = Field(default=None, ge=0.0)
