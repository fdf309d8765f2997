"""Text frame → typed client message, or the protocol error that explains what is wrong with it."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from app.protocol.errors import ErrorCode, ProtocolError
from app.protocol.messages import (
    ADDED_CLIENT_TYPES,
    CLIENT_MESSAGE,
    CLIENT_TYPES,
    MAX_QUERY_CHARS,
    AnyClientMessage,
    ChatRequest,
    Feedback,
)

ACCEPTED_TYPES = CLIENT_TYPES + ADDED_CLIENT_TYPES


def _field_error(exc: ValidationError) -> ProtocolError:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"][1:]) or "message"
    if where == "query" and first["type"] == "missing":
        return ProtocolError(ErrorCode.EMPTY_QUERY)
    return ProtocolError(ErrorCode.INVALID_REQUEST, f"Invalid field `{where}`: {first['msg']}.")


def _text_error(name: str, value: str) -> ProtocolError | None:
    """JSON can spell text no database stores: a lone surrogate (``"\\ud800"``), or NUL."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return ProtocolError(
            ErrorCode.INVALID_REQUEST, f"Invalid field `{name}`: it is not valid Unicode text."
        )
    if "\x00" in value:
        return ProtocolError(
            ErrorCode.INVALID_REQUEST, f"Invalid field `{name}`: it contains a NUL character."
        )
    return None


def parse_client_message(raw: str) -> AnyClientMessage:
    try:
        data: Any = json.loads(raw)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ProtocolError(ErrorCode.JSON_PARSE_ERROR) from exc
    if not isinstance(data, dict):
        raise ProtocolError(
            ErrorCode.INVALID_MESSAGE_TYPE, "Expected a JSON object with a `type` field."
        )
    kind = data.get("type")
    if kind not in ACCEPTED_TYPES:
        shown = json.dumps(kind)[:40] if kind is not None else "missing"
        raise ProtocolError(
            ErrorCode.INVALID_MESSAGE_TYPE,
            f"Unsupported message type {shown}; expected one of {', '.join(ACCEPTED_TYPES)}.",
        )
    try:
        message = CLIENT_MESSAGE.validate_python(data)
    except ValidationError as exc:
        raise _field_error(exc) from exc
    if isinstance(message, ChatRequest):
        for name, value in (("query", message.query), ("chatroom_id", message.chatroom_id)):
            error = _text_error(name, value or "")
            if error is not None:
                raise error
        query = message.query.strip()
        if not query:
            raise ProtocolError(ErrorCode.EMPTY_QUERY)
        if len(query) > MAX_QUERY_CHARS:
            raise ProtocolError(
                ErrorCode.QUERY_TOO_LONG,
                f"The query has {len(query)} characters; the limit is {MAX_QUERY_CHARS}.",
            )
        chatroom = message.chatroom_id.strip() if message.chatroom_id else None
        if message.page is not None and message.material_id is None:
            raise ProtocolError(
                ErrorCode.INVALID_REQUEST, "Invalid field `page`: it needs a `material_id`."
            )
        message = message.model_copy(update={"query": query, "chatroom_id": chatroom or None})
    elif isinstance(message, Feedback):
        comment = message.comment.strip() if message.comment else None
        message = message.model_copy(update={"comment": comment or None})
    return message
