"""The optional protocol additions parse, validate and keep the protocol's own frames unchanged."""

from __future__ import annotations

import json

import pytest

from app.protocol.errors import ErrorCode, ProtocolError
from app.protocol.messages import SERVER_MESSAGE, ChatRequest, Feedback, FeedbackAck
from app.protocol.parse import parse_client_message
from app.protocol.status import StatusResponse


def parse(**fields: object) -> object:
    return parse_client_message(json.dumps(fields))


def test_feedback_parses_and_blank_comments_become_none() -> None:
    message = parse(type="feedback", turn_id="abc_1-2", rating="down", comment="  salah  ")
    assert isinstance(message, Feedback) and message.comment == "salah"
    blank = parse(type="feedback", turn_id="abc", rating="up", comment="   ")
    assert isinstance(blank, Feedback) and blank.comment is None


@pytest.mark.parametrize(
    "fields",
    [
        {"type": "feedback", "turn_id": "t", "rating": "sideways"},
        {"type": "feedback", "turn_id": "t/../x", "rating": "up"},
        {"type": "feedback", "rating": "up"},
        {"type": "feedback", "turn_id": "t", "rating": "up", "comment": "c" * 2001},
        {"type": "chat_request", "query": "x", "page": 3},
        {"type": "chat_request", "query": "x", "material_id": "m", "page": 0},
        {"type": "chat_request", "query": "x", "material_id": "bad id", "page": 2},
    ],
)
def test_invalid_additions_are_invalid_requests(fields: dict[str, object]) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse(**fields)
    assert caught.value.code is ErrorCode.INVALID_REQUEST


def test_page_context_is_optional_and_typed() -> None:
    plain = parse(type="chat_request", query="x")
    assert isinstance(plain, ChatRequest) and plain.material_id is None and plain.page is None
    open_page = parse(type="chat_request", query="x", material_id="modul_6", page=14)
    assert isinstance(open_page, ChatRequest)
    assert (open_page.material_id, open_page.page) == ("modul_6", 14)


def test_feedback_ack_is_a_server_frame_and_status_lists_only_the_protocols_types() -> None:
    ack = FeedbackAck(turn_id="t", rating="up")
    assert SERVER_MESSAGE.validate_python(ack.model_dump()).type == "feedback_ack"
    assert "feedback" not in StatusResponse.model_fields["message_types"].default
