from __future__ import annotations

import json

import pytest

from app.protocol.errors import ErrorCode, ProtocolError
from app.protocol.messages import ChatRequest, Disconnect, ErrorMessage, Ping
from app.protocol.parse import parse_client_message


def code_of(raw: str) -> ErrorCode:
    with pytest.raises(ProtocolError) as caught:
        parse_client_message(raw)
    return caught.value.code


def test_valid_messages_parse_into_their_types() -> None:
    request = parse_client_message(
        '{"type": "chat_request", "query": "  Apa itu TI?  ", "use_personalization": true, "chatroom_id": " r1 "}'
    )
    assert isinstance(request, ChatRequest)
    assert (request.query, request.use_personalization, request.chatroom_id) == (
        "Apa itu TI?",
        True,
        "r1",
    )
    assert isinstance(parse_client_message('{"type": "ping"}'), Ping)
    assert isinstance(parse_client_message('{"type": "disconnect"}'), Disconnect)


def test_javascript_client_nulls_and_defaults() -> None:
    request = parse_client_message('{"type": "chat_request", "query": "x", "chatroom_id": null}')
    assert isinstance(request, ChatRequest)
    assert request.use_personalization is False and request.chatroom_id is None
    blank_room = parse_client_message('{"type": "chat_request", "query": "x", "chatroom_id": "  "}')
    assert isinstance(blank_room, ChatRequest) and blank_room.chatroom_id is None


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", ErrorCode.JSON_PARSE_ERROR),
        ("{", ErrorCode.JSON_PARSE_ERROR),
        ('"text"', ErrorCode.INVALID_MESSAGE_TYPE),
        ('{"type": 3}', ErrorCode.INVALID_MESSAGE_TYPE),
        ('{"type": "chat_response"}', ErrorCode.INVALID_MESSAGE_TYPE),
        ('{"type": "chat_request", "query": ""}', ErrorCode.EMPTY_QUERY),
        ('{"type": "chat_request", "query": "\\n\\t "}', ErrorCode.EMPTY_QUERY),
        ('{"type": "chat_request"}', ErrorCode.EMPTY_QUERY),
        ('{"type": "chat_request", "query": 42}', ErrorCode.INVALID_REQUEST),
        (json.dumps({"type": "chat_request", "query": "a" * 1001}), ErrorCode.QUERY_TOO_LONG),
        (
            json.dumps({"type": "chat_request", "query": "x", "chatroom_id": "r" * 200}),
            ErrorCode.INVALID_REQUEST,
        ),
    ],
)
def test_malformed_messages_map_to_protocol_codes(raw: str, code: ErrorCode) -> None:
    assert code_of(raw) is code


def test_query_limit_counts_characters_after_trimming() -> None:
    exactly = parse_client_message(
        json.dumps({"type": "chat_request", "query": " " + "é" * 1000 + " "})
    )
    assert isinstance(exactly, ChatRequest) and len(exactly.query) == 1000


def test_error_frames_carry_the_documented_recoverable_flags() -> None:
    documented = {
        "EMPTY_QUERY": True, "INVALID_MESSAGE_TYPE": True, "JSON_PARSE_ERROR": True,
        "SERVICE_UNAVAILABLE": False, "RATE_LIMIT_EXCEEDED": False, "CONNECTION_TIMEOUT": False,
    }  # fmt: skip
    for name, recoverable in documented.items():
        frame = ErrorMessage.of(ErrorCode(name))
        assert frame.recoverable is recoverable and frame.suggestion and frame.error
        assert frame.model_dump()["error_code"] == name
    assert all(code.spec.message and code.spec.suggestion for code in ErrorCode)
