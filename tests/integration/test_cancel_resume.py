"""`cancel` and `resume` on `/ws/stream`, and a follow-up that sees the turn answered just before:
real uvicorn, real WebSocket clients, real Redis Stack, the scripted LLM streaming slowly."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import ClientConnection

from app.protocol.messages import SERVER_MESSAGE
from tests.conftest import Tutor
from tests.support.client import Frame, ask, connect, recv
from tests.support.scripted_openai import Reply

pytestmark = pytest.mark.integration

DEFINITION = "Apa itu manajemen infrastruktur TI?"
SLOW = [f" kata{i}" for i in range(200)]


def slow_reply(delay: float = 0.03) -> Reply:
    return Reply(tokens=SLOW, delay_s=delay)


async def start_answer(ws: ClientConnection, chunks: int, **fields: object) -> list[Frame]:
    """Ask, and read up to the ``chunks``-th chat_chunk; returns chat_started and the chunks."""
    request = {"type": "chat_request", "query": DEFINITION, "chatroom_id": "room-r", **fields}
    await ws.send(json.dumps(request))
    frames = [await recv(ws)]
    assert frames[0]["type"] == "chat_started"
    while len(frames) <= chunks:
        frame = await recv(ws)
        assert frame["type"] == "chat_chunk", frame
        frames.append(frame)
    return frames


async def read_to_end(ws: ClientConnection) -> list[Frame]:
    frames = []
    while True:
        frame = await recv(ws)
        frames.append(frame)
        if frame["type"] in ("chat_response", "error"):
            return frames


def drop(ws: ClientConnection) -> None:
    """Vanish without a close frame, as a lost network does."""
    ws.transport.abort()


def turn_row(tutor: Tutor, turn_id: str) -> tuple[str, str] | None:
    with sqlite3.connect(tutor.settings.data_dir / "tutor.db") as db:
        row = db.execute("SELECT status, answer FROM turns WHERE id = ?", (turn_id,)).fetchone()
    return None if row is None else (str(row[0]), str(row[1]))


async def eventually(check: Callable[[], bool], seconds: float = 15.0) -> None:
    async with asyncio.timeout(seconds):
        while not check():
            await asyncio.sleep(0.05)


async def test_chat_started_names_the_turn_its_response_carries(tutor: Tutor) -> None:
    tutor.llm.script(Reply.from_text("Jawaban singkat tentang infrastruktur."))
    ws, _ = await connect(tutor.url, user_id="turn-id-user", course_id="course_tik_01")
    async with ws:
        turn = await ask(ws, DEFINITION)
    started, final = turn.frames[0], turn.final
    SERVER_MESSAGE.validate_python(started)
    assert started["metadata"]["turn_id"]
    assert started["metadata"]["turn_id"] == final["metadata"]["turn_id"]
    assert final["metadata"]["cancelled"] is False


async def test_cancel_ends_the_answer_with_what_was_sent_and_it_is_not_cached(
    tutor: Tutor,
) -> None:
    tutor.llm.script(slow_reply())
    ws, _ = await connect(tutor.url, user_id="cancel-user", course_id="course_tik_01")
    async with ws:
        frames = await start_answer(ws, 3)
        await ws.send('{"type": "cancel"}')
        frames += await read_to_end(ws)
        final = frames[-1]
        SERVER_MESSAGE.validate_python(final)
        chunks = [f for f in frames if f["type"] == "chat_chunk"]
        assert final["type"] == "chat_response" and final["metadata"]["cancelled"] is True
        assert final["chunks_count"] == len(chunks) >= 3
        assert final["response"] == "".join(c["chunk"] for c in chunks)
        assert len(final["response"].split()) < len(SLOW)  # stopped well before the end
        turn_id = frames[0]["metadata"]["turn_id"]
        assert final["metadata"]["turn_id"] == turn_id
        await eventually(lambda: tutor.llm.cancelled == 1)  # the LLM call itself was stopped
        await eventually(lambda: turn_row(tutor, turn_id) is not None)
        assert turn_row(tutor, turn_id) == ("cancelled", final["response"])
        # the same question again is answered afresh: the cut-off answer was never cached
        tutor.llm.script(Reply.from_text("Jawaban lengkap kedua."))
        again = await ask(ws, DEFINITION)
        assert again.final["type"] == "chat_response" and again.final["cached"] is False
        assert again.final["response"] == "Jawaban lengkap kedua."


async def test_cancel_with_nothing_streaming_is_ignored(tutor: Tutor) -> None:
    ws, _ = await connect(tutor.url, user_id="idle-cancel", course_id="course_tik_01")
    async with ws:
        await ws.send('{"type": "cancel"}')
        await ws.send('{"type": "ping"}')
        assert (await recv(ws))["type"] == "pong"  # no frame for the cancel, socket still open


async def test_a_dropped_answer_is_resumed_from_the_next_chunk_with_its_own_indexes(
    tutor: Tutor,
) -> None:
    tutor.llm.script(slow_reply())
    ws, _ = await connect(tutor.url, user_id="resumer", course_id="course_tik_01")
    before = await start_answer(ws, 4)
    turn_id = before[0]["metadata"]["turn_id"]
    drop(ws)
    again, _ = await connect(tutor.url, user_id="resumer", course_id="course_tik_01")
    async with again:
        resume = {"type": "resume", "turn_id": turn_id, "last_chunk_index": 4}
        await again.send(json.dumps(resume))
        after = await read_to_end(again)
    final = after[-1]
    assert final["type"] == "chat_response", final
    chunks = [f for f in after if f["type"] == "chat_chunk"]
    indexes = [c["chunk_index"] for c in chunks]
    assert indexes == list(range(5, final["chunks_count"] + 1))
    text = "".join(c["chunk"] for c in before[1:] + chunks)
    assert text.strip() == final["response"] == "".join(SLOW).strip()
    assert final["metadata"]["turn_id"] == turn_id
    assert tutor.llm.cancelled == 0  # the drop did not stop the answer
    await eventually(lambda: turn_row(tutor, turn_id) is not None)
    assert turn_row(tutor, turn_id) == ("completed", final["response"])


async def test_an_answer_dropped_before_its_first_chunk_is_resumed_whole(tutor: Tutor) -> None:
    tutor.llm.script(Reply(tokens=["Satu", " dua", " tiga."], delay_s=1.2))  # quiet > 1 s
    ws, _ = await connect(tutor.url, user_id="early-drop", course_id="course_tik_01")
    await ws.send(json.dumps({"type": "chat_request", "query": DEFINITION}))
    started = await recv(ws)
    drop(ws)
    again, _ = await connect(tutor.url, user_id="early-drop", course_id="course_tik_01")
    async with again:
        resume = {"type": "resume", "turn_id": started["metadata"]["turn_id"]}
        await again.send(json.dumps(resume))
        frames = await read_to_end(again)
    assert frames[-1]["type"] == "chat_response", frames[-1]
    chunks = [f for f in frames if f["type"] == "chat_chunk"]
    assert [c["chunk_index"] for c in chunks] == list(range(1, frames[-1]["chunks_count"] + 1))
    assert "".join(c["chunk"] for c in chunks) == frames[-1]["response"] == "Satu dua tiga."


async def test_resume_of_another_users_or_an_unknown_turn_gets_the_same_refusal(
    tutor: Tutor,
) -> None:
    tutor.llm.script(slow_reply(0.02))
    owner, _ = await connect(tutor.url, user_id="owner", course_id="course_tik_01")
    other, _ = await connect(tutor.url, user_id="intruder", course_id="course_tik_01")
    async with owner, other:
        turn_id = (await start_answer(owner, 1))[0]["metadata"]["turn_id"]
        refusals = []
        for wanted in (turn_id, "0123456789abcdef"):
            await other.send(json.dumps({"type": "resume", "turn_id": wanted}))
            refusals.append(await recv(other))
        assert refusals[0]["error_code"] == "TURN_NOT_FOUND"
        assert {k: v for k, v in refusals[0].items() if k != "timestamp"} == {
            k: v for k, v in refusals[1].items() if k != "timestamp"
        }
        # the owner, while the answer still streams to it, may not follow a second copy
        await owner.send(json.dumps({"type": "resume", "turn_id": turn_id}))
        rest = [await recv(owner)]
        while rest[-1]["type"] != "chat_response":
            rest.append(await recv(owner))
        errors = [f["error_code"] for f in rest if f["type"] == "error"]
        assert errors == ["CHAT_IN_PROGRESS"]
    async with httpx.AsyncClient(base_url=tutor.url) as http:
        metrics = (await http.get("/metrics")).text
    assert 'tutor_resumes_total{result="refused"} 2.0' in metrics


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "resume"},
        {"type": "resume", "turn_id": "has spaces"},
        {"type": "resume", "turn_id": "abc", "last_chunk_index": -1},
        {"type": "resume", "turn_id": "abc", "last_chunk_index": "3"},
        {"type": "resume", "turn_id": 42},
    ],
)
async def test_a_malformed_resume_is_an_input_error(tutor: Tutor, frame: Frame) -> None:
    ws, _ = await connect(tutor.url, user_id="bad-resume", course_id="course_tik_01")
    async with ws:
        await ws.send(json.dumps(frame))
        error = await recv(ws)
    assert error["type"] == "error" and error["error_code"] == "INVALID_REQUEST"


async def test_a_clean_close_still_cancels_at_once_and_leaves_nothing_to_resume(
    tutor: Tutor,
) -> None:
    tutor.llm.script(slow_reply())
    ws, _ = await connect(tutor.url, user_id="closer", course_id="course_tik_01")
    turn_id = (await start_answer(ws, 2))[0]["metadata"]["turn_id"]
    await ws.close()  # a close frame, no `disconnect` message
    await eventually(lambda: tutor.llm.cancelled == 1)
    await eventually(lambda: turn_row(tutor, turn_id) is not None)
    row = turn_row(tutor, turn_id)
    assert row is not None and row[0] == "cancelled"
    again, _ = await connect(tutor.url, user_id="closer", course_id="course_tik_01")
    async with again:
        await again.send(json.dumps({"type": "resume", "turn_id": turn_id}))
        assert (await recv(again))["error_code"] == "TURN_NOT_FOUND"


async def test_without_a_resume_window_a_drop_cancels_and_resume_is_not_offered(
    tutor_factory: Callable[..., Tutor],
) -> None:
    tutor = tutor_factory(resume_window_seconds=0)
    tutor.llm.script(slow_reply())
    ws, _ = await connect(tutor.url, user_id="no-resume", course_id="course_tik_01")
    await start_answer(ws, 1)
    drop(ws)
    await eventually(lambda: tutor.llm.cancelled == 1)
    async with httpx.AsyncClient(base_url=tutor.url) as http:
        status = (await http.get("/ws/status")).json()
    assert "cancel" in status["added_message_types"]
    assert "resume" not in status["added_message_types"]


async def test_a_follow_up_sees_the_turn_answered_just_before_it(tutor: Tutor) -> None:
    """The first turn cannot reach the database before the follow-up is asked (its write is
    held back by a lock); the follow-up's condensing request must still contain it."""
    first_answer = "Manajemen infrastruktur TI adalah pengelolaan perangkat keras dan jaringan."
    tutor.llm.script(Reply.from_text(first_answer))
    db_path = Path(tutor.settings.data_dir) / "tutor.db"
    ws, _ = await connect(tutor.url, user_id="follower", course_id="course_tik_01")
    lock = sqlite3.connect(db_path, isolation_level=None, timeout=10)
    try:
        async with ws:
            lock.execute("BEGIN IMMEDIATE")  # writers wait, readers do not
            first = await ask(ws, DEFINITION, chatroom_id="room-f")
            assert first.final["type"] == "chat_response"
            asked = len(tutor.llm.chat_requests)
            second = await ask(ws, "Apa saja komponennya?", chatroom_id="room-f")
            assert second.final["type"] == "chat_response", second.final
            lock.execute("COMMIT")
    finally:
        lock.close()
    later = json.dumps(tutor.llm.chat_requests[asked:])
    assert first_answer in later and DEFINITION in later
