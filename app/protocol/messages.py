"""The `/ws/stream` wire protocol as types: every message in both directions.

Field names and shapes follow the protocol document our users integrate against; fields we add are
optional for clients to read and listed in docs/protocol.md (generated from these models).
"""

from __future__ import annotations

import time
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from app.protocol.errors import ErrorCode

MAX_QUERY_CHARS = 1000
MAX_COMMENT_CHARS = 2000
IDENTIFIER_PATTERN = r"^[A-Za-z0-9_.@:\-]{1,128}$"
TURN_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


def now() -> float:
    return time.time()


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=False)


# --- client → server -------------------------------------------------------------------------


class ChatRequest(_Wire):
    type: Literal["chat_request"]
    query: str
    use_personalization: bool = False
    chatroom_id: str | None = Field(default=None, max_length=128)
    # ours: the PDF page the student has open next to the chat
    material_id: str | None = Field(default=None, pattern=IDENTIFIER_PATTERN)
    page: int | None = Field(default=None, ge=1, le=100_000)


class Feedback(_Wire):
    """Ours: the student's rating of one of their own answers (``turn_id`` from its metadata)."""

    type: Literal["feedback"]
    turn_id: str = Field(pattern=TURN_ID_PATTERN)
    rating: Literal["up", "down"]
    comment: str | None = Field(default=None, max_length=MAX_COMMENT_CHARS)


class Ping(_Wire):
    type: Literal["ping"]


class Disconnect(_Wire):
    type: Literal["disconnect"]


class Cancel(_Wire):
    """Ours: stop the answer in progress; it ends with a ``chat_response`` marked cancelled."""

    type: Literal["cancel"]


class Resume(_Wire):
    """Ours: continue one of the user's answers cut off by a dropped connection."""

    type: Literal["resume"]
    turn_id: str = Field(pattern=TURN_ID_PATTERN)
    last_chunk_index: int = Field(0, ge=0, le=1_000_000, strict=True)


AnyClientMessage = ChatRequest | Ping | Disconnect | Feedback | Cancel | Resume
ClientMessage = Annotated[AnyClientMessage, Field(discriminator="type")]
CLIENT_MESSAGE: TypeAdapter[AnyClientMessage] = TypeAdapter(ClientMessage)
CLIENT_TYPES = ("chat_request", "ping", "disconnect")  # the protocol's (listed by /ws/status)
ADDED_CLIENT_TYPES = ("feedback", "cancel", "resume")  # ours, optional for clients


# --- server → client -------------------------------------------------------------------------


class ConnectionConfig(_Wire):
    model_comprehensive: str
    model_personalized: str
    rag_threshold: float
    rag_top_k: int
    openai_temperature: float
    openai_max_tokens: int
    streaming: bool = True
    cache_enabled: bool
    personalization_enabled: bool
    # ours
    embedding_model: str | None = None
    hybrid_retrieval: bool | None = None
    max_query_chars: int = MAX_QUERY_CHARS
    max_message_bytes: int | None = None
    idle_timeout_seconds: float | None = None


class ConnectionMessage(_Wire):
    type: Literal["connection"] = "connection"
    status: Literal["connected"] = "connected"
    user_id: str
    course_id: str | None
    timestamp: float = Field(default_factory=now)
    message: str = "WebSocket connected. Ready for streaming chat!"
    config: ConnectionConfig
    # ours
    connection_id: str | None = None


class ChatStartedMetadata(_Wire):
    course_id: str | None
    chatroom_id: str | None
    use_personalization: bool
    service: str = "course_tutor"
    cache_check: Literal["initiated", "disabled"] = "initiated"
    # ours
    turn_id: str | None = None


class ChatStarted(_Wire):
    type: Literal["chat_started"] = "chat_started"
    query: str
    timestamp: float = Field(default_factory=now)
    metadata: ChatStartedMetadata


class ChatChunk(_Wire):
    type: Literal["chat_chunk"] = "chat_chunk"
    chunk: str
    chunk_index: int
    timestamp: float = Field(default_factory=now)


class SourceMetadata(_Wire):
    material_id: str
    course_id: str
    filename: str
    page: str  # "<page label>.<chunk position on that page>", e.g. "12.2" or "iv.1"
    score: float  # cosine similarity, 1 - vector_distance
    vector_distance: float
    chunk_type: str | None = None
    # ours
    page_label: str
    page_number: int  # physical page, 1-based
    title: str | None = None
    ocr: bool = False  # the page's text was read by OCR from a scan
    ocr_confidence: float | None = None  # 0-1, OCR's confidence in that page (when ocr)


class Source(_Wire):
    content: str
    metadata: SourceMetadata


class ModelPricing(_Wire):
    input_cost_per_1k: float
    output_cost_per_1k: float
    total_cost: float


class UsageItem(_Wire):
    """One LLM call of this turn (ours): condensing, answering, personalizing."""

    purpose: Literal["condense", "answer", "personalize", "translate", "rerank"]
    model: str
    input_tokens: int
    output_tokens: int
    cost_usd: float
    counted: bool = False  # the server reported no usage; tokens were counted by us


class TokenUsage(_Wire):
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    model_pricing: ModelPricing
    # ours
    calls: list[UsageItem] = Field(default_factory=list)


ResponseSource = Literal["rag", "cache", "not_covered", "curated"]
# Ours: what decided "not covered" — no chunk close enough, the refusal gate before the LLM, the
# model's own refusal, or the grounding check of the finished answer.
NotCoveredReason = Literal["no_sources", "refusal_gate", "model", "grounding"]


class ResponseMetadata(_Wire):
    source: ResponseSource
    source_type: Literal["knowledge_base", "semantic_cache", "none", "curated_answer"]
    response_type: Literal["rag_response", "cached_response", "not_covered", "curated_response"]
    model_used: str | None
    personalized: bool
    course_id: str | None
    cost_usd: float
    rag_threshold_used: float
    documents_retrieved: int
    documents_used: int
    # ours
    language: str | None = None
    chatroom_id: str | None = None
    turn_id: str | None = None
    cache_distance: float | None = None
    condensed_query: str | None = None
    timings_ms: dict[str, float] | None = None  # consecutive laps: context, embed, cache, ...
    cancelled: bool = False  # stopped by the client's `cancel`: `response` is what was sent
    not_covered_reason: NotCoveredReason | None = None  # set when response_source is not_covered
    # The grounding check changed the answer after it streamed: ``response`` is the checked text
    # (show it instead of the chunks); ``grounding_removed`` lists the sentences taken out.
    revised: bool = False
    grounding_removed: list[str] | None = None


class ChatResponse(_Wire):
    type: Literal["chat_response"] = "chat_response"
    response: str
    sources: list[Source]
    cached: bool
    token_usage: TokenUsage
    latency_ms: float
    timestamp: float = Field(default_factory=now)
    metadata: ResponseMetadata
    response_source: ResponseSource
    chunks_count: int
    done: Literal[True] = True


class Pong(_Wire):
    type: Literal["pong"] = "pong"
    timestamp: float = Field(default_factory=now)


class FeedbackAck(_Wire):
    """Ours: the rating of ``turn_id`` is stored (sending it again replaces it)."""

    type: Literal["feedback_ack"] = "feedback_ack"
    turn_id: str
    rating: Literal["up", "down"]
    held_for_review: bool = False  # a downvoted cached answer was taken out of the cache
    timestamp: float = Field(default_factory=now)


class ErrorMessage(_Wire):
    type: Literal["error"] = "error"
    error: str
    error_code: ErrorCode
    timestamp: float = Field(default_factory=now)
    recoverable: bool
    suggestion: str

    @classmethod
    def of(cls, code: ErrorCode, message: str | None = None) -> ErrorMessage:
        return cls(
            error=message or code.spec.message,
            error_code=code,
            recoverable=code.recoverable,
            suggestion=code.spec.suggestion,
        )


ServerMessage = Annotated[
    ConnectionMessage | ChatStarted | ChatChunk | ChatResponse | Pong | ErrorMessage | FeedbackAck,
    Field(discriminator="type"),
]
SERVER_MESSAGE: TypeAdapter[
    ConnectionMessage | ChatStarted | ChatChunk | ChatResponse | Pong | ErrorMessage | FeedbackAck
] = TypeAdapter(ServerMessage)
SERVER_TYPES = ("connection", "chat_started", "chat_chunk", "chat_response", "error", "pong")
ADDED_SERVER_TYPES = ("feedback_ack",)  # ours: only in answer to a client's addition
