"""Client for the course tutor: `TutorClient` (async) and the `tutor-chat` command."""

from tutor_client.client import (
    AnswerEvent,
    Backoff,
    ConnectionLostError,
    ConnectionRefusedByServerError,
    ServerUnreachableError,
    TutorClient,
    TutorError,
)
from tutor_client.protocol import (
    ChatChunk,
    ChatResponse,
    ChatStarted,
    ConnectionMessage,
    ErrorCode,
    ErrorMessage,
    Pong,
    Source,
    StatusResponse,
)

__all__ = [
    "AnswerEvent",
    "Backoff",
    "ChatChunk",
    "ChatResponse",
    "ChatStarted",
    "ConnectionLostError",
    "ConnectionMessage",
    "ConnectionRefusedByServerError",
    "ErrorCode",
    "ErrorMessage",
    "Pong",
    "ServerUnreachableError",
    "Source",
    "StatusResponse",
    "TutorClient",
    "TutorError",
]
