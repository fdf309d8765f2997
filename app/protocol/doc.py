"""Generate docs/protocol.md from the message models, so the reference can never drift from the code.

``PROTOCOL_FIELDS`` lists, per message, the fields the protocol document defines; every other field
of our models is an addition and is marked as such. A unit test checks that the committed
docs/protocol.md equals :func:`render` and that no protocol field is missing from a model.

    python -m app.protocol.doc > docs/protocol.md
"""

from __future__ import annotations

import types
import typing
from typing import Any, get_args, get_origin

from pydantic import BaseModel

from app.protocol import messages as m
from app.protocol.errors import ErrorCode
from app.protocol.status import PerformanceStats, StatusResponse, SupportedFeatures

PROTOCOL_CODES = {c.value for c in list(ErrorCode)[:6]}

PROTOCOL_FIELDS: dict[type[BaseModel], set[str]] = {
    m.ChatRequest: {"type", "query", "use_personalization", "chatroom_id"},
    m.Ping: {"type"},
    m.Disconnect: {"type"},
    m.Feedback: set(),
    m.Cancel: set(),
    m.Resume: set(),
    m.ConnectionMessage: {"type", "status", "user_id", "course_id", "timestamp", "message", "config"},
    m.ConnectionConfig: {
        "model_comprehensive", "model_personalized", "rag_threshold", "rag_top_k",
        "openai_temperature", "openai_max_tokens", "streaming", "cache_enabled",
        "personalization_enabled",
    },
    m.ChatStarted: {"type", "query", "timestamp", "metadata"},
    m.ChatStartedMetadata: {"course_id", "chatroom_id", "use_personalization", "service", "cache_check"},
    m.ChatChunk: {"type", "chunk", "chunk_index", "timestamp"},
    m.ChatResponse: {
        "type", "response", "sources", "cached", "token_usage", "latency_ms", "timestamp",
        "metadata", "response_source", "chunks_count", "done",
    },
    m.Source: {"content", "metadata"},
    m.SourceMetadata: {
        "material_id", "course_id", "filename", "page", "score", "vector_distance", "chunk_type",
    },
    m.TokenUsage: {"input_tokens", "output_tokens", "total_tokens", "model_pricing"},
    m.ModelPricing: {"input_cost_per_1k", "output_cost_per_1k", "total_cost"},
    m.UsageItem: set(),
    m.ResponseMetadata: {
        "source", "source_type", "response_type", "model_used", "personalized", "course_id",
        "cost_usd", "rag_threshold_used", "documents_retrieved", "documents_used",
    },
    m.Pong: {"type", "timestamp"},
    m.ErrorMessage: {"type", "error", "error_code", "timestamp", "recoverable", "suggestion"},
    m.FeedbackAck: set(),
    StatusResponse: {
        "websocket_status", "active_connections", "connected_users", "endpoint", "server_time",
        "uptime", "message_types", "response_types", "supported_features", "performance_stats",
    },
    SupportedFeatures: set(SupportedFeatures.model_fields),
    PerformanceStats: set(PerformanceStats.model_fields),
}  # fmt: skip

NOTES: dict[tuple[type[BaseModel], str], str] = {
    (m.ChatRequest, "query"): "1–1000 characters after trimming",
    (m.ChatRequest, "chatroom_id"): "≤ 128 characters; rooms belong to the user who created them",
    (m.SourceMetadata, "page"): "`<page label>.<chunk position on that page>`, e.g. `\"12.2\"`, `\"iv.1\"`; empty for a curated answer's reference to a whole material",
    (m.SourceMetadata, "score"): "cosine similarity, `1 - vector_distance`",
    (m.SourceMetadata, "page_label"): "the PDF's own page label (roman numerals, custom labels)",
    (m.SourceMetadata, "page_number"): "physical page in the file, 1-based",
    (m.SourceMetadata, "ocr"): "`true` when the page is a scan whose text was read by OCR (show it: the text may hold misread characters)",
    (m.SourceMetadata, "ocr_confidence"): "OCR's confidence in that page, 0–1 (`null` unless `ocr`)",
    (m.ResponseMetadata, "timings_ms"): "consecutive laps of the turn: context, (condense,) embed, scope, curated, cache, (translate,) retrieval, postprocess, prompt, llm_first_token, llm_stream, cache_store, (personalize); an answer served before the engine ends at its stage",
    (m.ResponseMetadata, "not_covered_reason"): "what decided `not_covered`: `no_sources` (no chunk close enough), `refusal_gate` (decided before any LLM call), `model` (the model said the material lacks it), `grounding` (the finished answer was not supported by its sources); `null` otherwise",
    (m.ResponseMetadata, "revised"): "`true` when `response` differs from the streamed chunks: the grounding check removed sentences after they streamed (show `response`)",
    (m.ResponseMetadata, "grounding_removed"): "the sentences the grounding check removed from the streamed answer",
    (m.UsageItem, "purpose"): "`translate`, `rerank` (added): the question's translation into the material's language, the LLM reranker",
    (m.ResponseMetadata, "condensed_query"): "the standalone question a follow-up was rewritten to",
    (m.ResponseMetadata, "cache_distance"): "distance to the cached question on a cache hit",
    (m.UsageItem, "counted"): "the server reported no usage (llama.cpp); tokens were counted by us",
    (m.TokenUsage, "calls"): "one entry per LLM call of the turn (condense, translate, rerank, answer, personalize)",
    (m.ChatResponse, "chunks_count"): "number of `chat_chunk` frames sent for this turn",
    (StatusResponse, "added_message_types"): "message types beyond the protocol's that this server accepts (e.g. `feedback`)",
    (m.ChatRequest, "material_id"): "the material the student has open next to the chat; retrieval prefers it",
    (m.ChatRequest, "page"): "physical page (1-based) of `material_id` the student has open; needs `material_id`; neighbouring pages are preferred",
    (m.Feedback, "turn_id"): "`metadata.turn_id` of one of the user's own answers",
    (m.Feedback, "comment"): "≤ 2000 characters; shown to the course's lecturers",
    (m.FeedbackAck, "held_for_review"): "a downvoted answer that came from, or went into, the semantic cache was taken out of it until a lecturer reviews it",
    (m.ResponseMetadata, "source"): "`curated` (added): a lecturer's curated answer matched the question",
    (m.ResponseMetadata, "rag_threshold_used"): "for `curated` answers: the curated-question distance cut",
    (m.ChatStartedMetadata, "turn_id"): "this answer's id (the same as `chat_response.metadata.turn_id`): what `resume` and `feedback` name",
    (m.ResponseMetadata, "cancelled"): "`true` when the client's `cancel` stopped the answer: `response` is the text sent so far, `chunks_count` the chunks sent, `sources` empty",
    (m.Resume, "turn_id"): "`chat_started.metadata.turn_id` of one of the user's own answers",
    (m.Resume, "last_chunk_index"): "the last `chunk_index` received (0: none); chunks after it are sent again with their own indexes",
}  # fmt: skip

SECTIONS: list[tuple[str, list[type[BaseModel]]]] = [
    ("Client → server", [m.ChatRequest, m.Ping, m.Disconnect, m.Feedback, m.Cancel, m.Resume]),
    ("Server → client", [m.ConnectionMessage, m.ConnectionConfig, m.ChatStarted, m.ChatStartedMetadata,
                         m.ChatChunk, m.ChatResponse, m.Source, m.SourceMetadata, m.TokenUsage,
                         m.ModelPricing, m.UsageItem, m.ResponseMetadata, m.Pong, m.ErrorMessage,
                         m.FeedbackAck]),
    ("GET /ws/status", [StatusResponse, SupportedFeatures, PerformanceStats]),
]  # fmt: skip

INTRO = """# `/ws/stream` protocol reference

Generated from the message models by `python -m app.protocol.doc` (a test fails when this file is
stale). The protocol is the one our users integrate against; fields marked **added** are ours, always
optional for a client to read. Every frame is one JSON object in a text frame.

Connect to `ws://HOST:8000/ws/stream?user_id=<id>[&course_id=<course>]`. `user_id` is required
(1–128 characters of letters, digits and `_ - . @ :`); `course_id` is optional — absent, empty,
`null` or `undefined` mean "all courses". A missing or invalid parameter, or a course with no
ingested material, gets an `error` frame and the socket is closed with code 1008. The server sends
`connection` first; each `chat_request` then yields `chat_started`, one or more `chat_chunk` frames
(`chunk_index` from 1, text released in phrases at word boundaries) and a final `chat_response` —
or an `error` frame. One answer streams at a time per connection: a `chat_request` sent while one
streams gets `CHAT_IN_PROGRESS` (resend after the `chat_response`). `ping` is answered with `pong`
at any time, also mid-answer. `disconnect` cancels the answer in progress and closes with 1000.
An idle connection (no frame for `WS_IDLE_TIMEOUT_SECONDS`) gets `CONNECTION_TIMEOUT` and is closed
with 1000. Messages larger than `WS_MAX_MESSAGE_BYTES` get `MESSAGE_TOO_LARGE`.

Authentication (`AUTH_MODE`, see docs/security.md). With `none` (the default, loopback only) the
`user_id` above is taken as claimed. With `token` or `lti` the user is the verified token's `sub`:
send `Authorization: Bearer <jwt>` on the handshake, or (browsers) a one-time `ticket` from
`POST /auth/ticket` as `/ws/stream?ticket=...&course_id=...`. `user_id` may then be left out; a
different one is refused with `FORBIDDEN`. `course_id` must be one of the token's `courses`; left
out, it means the token's courses: its only one, or all of its several together (the `connection`
frame then says `course_id: null`); only `"*"` tokens ask across every course.
A missing, invalid, expired or revoked credential gets `UNAUTHORIZED`, a course or resource that
is not yours `FORBIDDEN`; both as an `error` frame followed by close code 1008. Expiry and
revocation are checked again on every `chat_request`: a refusal there also closes with 1008. A
handshake whose `Origin` header is neither the server's own origin nor in `ALLOWED_ORIGINS` is
refused with HTTP 403 before the upgrade (clients that send no `Origin` are allowed).

`response_source` / `metadata.source` is `rag` (a fresh answer from the course material), `cache`
(a semantic-cache hit: same course, same content version, same language, same open page, and
written the way this course answers now — direct or guided) or `not_covered` (no chunk was close
enough: a fixed message says the material does not cover the question, with no LLM call and empty
`sources`) — or `curated` (added): the question matched an answer a lecturer wrote for this
course; it streams like any answer, as written (never personalized, no LLM call, `cached` false),
its `sources` are the pages the lecturer referenced (`chunk_type` `curated_reference`, distance =
how close the question was to the lecturer's), `metadata.source_type` is `curated_answer` and
`metadata.response_type` `curated_response`.

Added: a `rag` answer is checked against its sources after it streamed (the grounding check). When
sentences were removed, the final `chat_response.response` is the checked text and differs from
the concatenated chunks: `metadata.revised` is `true` and `metadata.grounding_removed` lists the
sentences; clients show `response`. An answer its sources do not support ends as `not_covered`
(`response` is the fixed message, `sources` empty, `metadata.not_covered_reason` `grounding`).
Otherwise the chunks always concatenate to `response`.

Additions for clients that want them: a `chat_request` may say which PDF page the student has open
(`material_id`, `page`), so retrieval prefers that material and its neighbouring pages (a
material that is not part of the connection's course is ignored); a
`feedback` frame rates one of the user's own answers (`up` or `down`, optional comment) and is
answered with `feedback_ack` — or with `TURN_NOT_FOUND` when the turn is not one of the user's
answers. `HTTP POST /turns/{turn_id}/feedback` does the same for pages without a socket.

Stopping and resuming (added; `/ws/status` lists `cancel` and `resume` in `added_message_types`).
`chat_started.metadata.turn_id` names the answer. `cancel` stops the answer streaming on this
connection within a second: it ends with a `chat_response` whose `metadata.cancelled` is `true`,
`response` the text sent so far and `chunks_count` the chunks sent; the turn is recorded as
cancelled, and its cut-off text is never cached. A `cancel` with no answer streaming is ignored (no frame), so one that
crosses the `chat_response` on the wire is harmless. `disconnect`, or closing the socket with a
close frame, still cancels the answer at once. A connection that drops without a close frame
leaves its answer running for `RESUME_WINDOW_SECONDS` (default 60; 0 turns resume off and a drop
cancels): reconnect — to any server of the deployment — and send `resume` with the `turn_id` and
the last `chunk_index` received to get the remaining chunks, with their original indexes, and
then the final `chat_response` (or `error`), live while the answer is still being written. A turn
that is unknown, expired, cancelled or not the user's own gets `TURN_NOT_FOUND` — the same answer
in every case; a `resume` while an answer streams on the connection gets `CHAT_IN_PROGRESS`; a
malformed one `INVALID_REQUEST`. A `cancel` sent while following a resumed answer is ignored.
"""


def _type_name(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_type_name(a) for a in get_args(annotation))
    if origin is typing.Literal:
        return " \\| ".join(
            f'`"{a}"`' if isinstance(a, str) else f"`{a}`" for a in get_args(annotation)
        )
    if origin in (list, dict):
        inner = ", ".join(_type_name(a) for a in get_args(annotation))
        return f"{origin.__name__}[{inner}]"
    if annotation is type(None):
        return "null"
    name = getattr(annotation, "__name__", str(annotation))
    return "string" if name in ("str", "ErrorCode") else name


CLIENT_MODELS = {m.ChatRequest, m.Ping, m.Disconnect, m.Feedback, m.Cancel, m.Resume}


def _table(model: type[BaseModel]) -> list[str]:
    """Client messages: which fields are required. Server frames always carry every field."""
    base = PROTOCOL_FIELDS[model]
    rows = ["| field | type | required | notes |", "|---|---|---|---|"]
    for name, info in model.model_fields.items():
        added = "" if name in base else "**added** "
        required = (
            ("yes" if info.is_required() else "no") if model in CLIENT_MODELS else "always sent"
        )
        rows.append(
            f"| `{name}` | {_type_name(info.annotation)} | {required} | {added}{NOTES.get((model, name), '')} |"
        )
    return rows


def _errors() -> list[str]:
    rows = ["| code | recoverable | message | suggestion |", "|---|---|---|---|"]
    for code in ErrorCode:
        mark = "" if code.value in PROTOCOL_CODES else " (added)"
        spec = code.spec
        rows.append(
            f"| `{code.value}`{mark} | {'yes' if spec.recoverable else 'no'} | {spec.message} | {spec.suggestion} |"
        )
    return rows


def render() -> str:
    lines = [INTRO]
    for title, models in SECTIONS:
        lines.append(f"## {title}\n")
        for model in models:
            lines += [f"### {model.__name__}\n", *_table(model), ""]
    lines += ["## Error codes\n", *_errors(), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")
