"""`cancel` and `resume` frames parse into their models; a socket's end is told apart as a drop
(answer kept for resume) or a close (answer cancelled)."""

from __future__ import annotations

import pytest

from app.protocol.errors import ErrorCode, ProtocolError
from app.protocol.messages import Cancel, Resume
from app.protocol.parse import parse_client_message
from app.ws.session import dropped_without_close


def test_cancel_and_resume_parse() -> None:
    assert isinstance(parse_client_message('{"type": "cancel"}'), Cancel)
    resume = parse_client_message('{"type": "resume", "turn_id": "ab_12-c", "last_chunk_index": 7}')
    assert resume == Resume(type="resume", turn_id="ab_12-c", last_chunk_index=7)
    bare = parse_client_message('{"type": "resume", "turn_id": "abc"}')
    assert isinstance(bare, Resume) and bare.last_chunk_index == 0


@pytest.mark.parametrize(
    "raw",
    [
        '{"type": "resume"}',
        '{"type": "resume", "turn_id": ""}',
        '{"type": "resume", "turn_id": "a/b"}',
        '{"type": "resume", "turn_id": "abc", "last_chunk_index": 1.5}',
        '{"type": "resume", "turn_id": "abc", "last_chunk_index": true}',
        '{"type": "resume", "turn_id": "abc", "last_chunk_index": null}',
    ],
)
def test_malformed_resume_is_invalid_request(raw: str) -> None:
    with pytest.raises(ProtocolError) as refused:
        parse_client_message(raw)
    assert refused.value.code is ErrorCode.INVALID_REQUEST


@pytest.mark.parametrize(
    ("message", "dropped"),
    [
        ({"type": "websocket.disconnect", "code": 1005}, True),  # connection lost (uvicorn)
        ({"type": "websocket.disconnect", "code": 1006}, True),
        ({"type": "websocket.disconnect", "code": 1012}, True),  # this server is stopping
        ({"type": "websocket.disconnect", "code": 1000, "reason": ""}, False),
        ({"type": "websocket.disconnect", "code": 1001, "reason": ""}, False),
        ({"type": "websocket.disconnect", "code": 1005, "reason": ""}, False),  # empty close frame
    ],
)
def test_a_drop_is_told_from_a_close(message: dict[str, object], dropped: bool) -> None:
    assert dropped_without_close(message) is dropped
