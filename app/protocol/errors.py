"""Every error a client can see: its code, whether retrying can help, and what to do about it.

The first six codes are the protocol document's; the rest are ours (documented in
docs/protocol.md) for cases the document does not name. A client only ever sees these messages;
exception text goes to the log, never to the socket.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True)
class ErrorSpec:
    recoverable: bool
    message: str
    suggestion: str


class ErrorCode(StrEnum):
    # the protocol document's codes
    EMPTY_QUERY = "EMPTY_QUERY"
    INVALID_MESSAGE_TYPE = "INVALID_MESSAGE_TYPE"
    JSON_PARSE_ERROR = "JSON_PARSE_ERROR"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    RATE_LIMIT_EXCEEDED = "RATE_LIMIT_EXCEEDED"
    CONNECTION_TIMEOUT = "CONNECTION_TIMEOUT"
    # ours
    MISSING_USER_ID = "MISSING_USER_ID"
    INVALID_PARAMETER = "INVALID_PARAMETER"
    UNKNOWN_COURSE = "UNKNOWN_COURSE"
    QUERY_TOO_LONG = "QUERY_TOO_LONG"
    INVALID_REQUEST = "INVALID_REQUEST"
    MESSAGE_TOO_LARGE = "MESSAGE_TOO_LARGE"
    BINARY_NOT_SUPPORTED = "BINARY_NOT_SUPPORTED"
    CHAT_IN_PROGRESS = "CHAT_IN_PROGRESS"
    TURN_NOT_FOUND = "TURN_NOT_FOUND"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    UNAUTHORIZED = "UNAUTHORIZED"
    FORBIDDEN = "FORBIDDEN"

    @property
    def spec(self) -> ErrorSpec:
        return _SPECS[self]

    @property
    def recoverable(self) -> bool:
        return self.spec.recoverable


_SPECS: dict[ErrorCode, ErrorSpec] = {
    ErrorCode.EMPTY_QUERY: ErrorSpec(
        True,
        "Query cannot be empty. Please provide a valid question.",
        "Resend the chat_request with a non-empty `query`.",
    ),
    ErrorCode.INVALID_MESSAGE_TYPE: ErrorSpec(
        True,
        "Unsupported message type.",
        "Send one of: chat_request, ping, disconnect (or feedback, cancel, resume).",
    ),
    ErrorCode.JSON_PARSE_ERROR: ErrorSpec(
        True,
        "The message is not valid JSON.",
        "Send each message as one JSON object in a text frame.",
    ),
    ErrorCode.SERVICE_UNAVAILABLE: ErrorSpec(
        False,
        "The tutor cannot answer right now: a backing service is unavailable.",
        "Try again in a minute; if it persists, contact the course administrator.",
    ),
    ErrorCode.RATE_LIMIT_EXCEEDED: ErrorSpec(
        False,
        "Too many questions in a short time.",
        "Wait before asking again.",
    ),
    ErrorCode.CONNECTION_TIMEOUT: ErrorSpec(
        False,
        "The connection was idle for too long and is being closed.",
        "Reconnect, and send a ping now and then to keep an idle connection open.",
    ),
    ErrorCode.MISSING_USER_ID: ErrorSpec(
        False,
        "The `user_id` query parameter is required.",
        "Connect to /ws/stream?user_id=<your id>[&course_id=<course>].",
    ),
    ErrorCode.INVALID_PARAMETER: ErrorSpec(
        False,
        "A connection parameter is invalid.",
        "Use 1-128 letters, digits or '_', '-', '.', '@', ':' for user_id and course_id.",
    ),
    ErrorCode.UNKNOWN_COURSE: ErrorSpec(
        False,
        "No material has been loaded for this course.",
        "Check the course_id, or ask the course administrator to ingest the course material.",
    ),
    ErrorCode.QUERY_TOO_LONG: ErrorSpec(
        True,
        "The query is longer than 1000 characters.",
        "Shorten the question to at most 1000 characters and resend it.",
    ),
    ErrorCode.INVALID_REQUEST: ErrorSpec(
        True,
        "The message has a field of the wrong type.",
        "Check the field types: query string, use_personalization boolean, chatroom_id string.",
    ),
    ErrorCode.MESSAGE_TOO_LARGE: ErrorSpec(
        True,
        "The message is too large.",
        "Send messages smaller than the limit; questions are at most 1000 characters.",
    ),
    ErrorCode.BINARY_NOT_SUPPORTED: ErrorSpec(
        True,
        "Binary frames are not supported.",
        "Send JSON text frames.",
    ),
    ErrorCode.CHAT_IN_PROGRESS: ErrorSpec(
        True,
        "An answer is still streaming on this connection.",
        "Wait for its chat_response (or send disconnect) before asking the next question.",
    ),
    ErrorCode.TURN_NOT_FOUND: ErrorSpec(
        True,
        "None of your answers has this turn_id (or it can no longer be resumed).",
        "Rate or resume only your own answers, with their turn_id; ask again if a resume fails.",
    ),
    ErrorCode.INTERNAL_ERROR: ErrorSpec(
        True,
        "Something went wrong while answering.",
        "Try the question again; if it keeps failing, contact the course administrator.",
    ),
    ErrorCode.UNAUTHORIZED: ErrorSpec(
        False,
        "Sign-in required: the credential is missing, invalid, expired or revoked.",
        "Get a fresh token (or a new one-time ticket from POST /auth/ticket) and reconnect.",
    ),
    ErrorCode.FORBIDDEN: ErrorSpec(
        False,
        "You do not have access to this course or resource.",
        "Use a course you are enrolled in, or ask the course staff for access.",
    ),
}


class ProtocolError(Exception):
    """Raised where a request cannot be served; becomes one error frame."""

    def __init__(self, code: ErrorCode, message: str | None = None) -> None:
        super().__init__(message or code.spec.message)
        self.code = code
        self.message = message or code.spec.message
