"""Rating answers over the socket and over HTTP, through the real server; a downvote takes the
cached answer out of the cache until a lecturer restores or discards it."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.principal import Principal
from app.db.access import Database
from app.db.feedback_store import FeedbackStore
from app.db.records import TurnRecord
from app.db.repository import ChatRepository
from app.protocol.messages import SERVER_MESSAGE
from app.teaching.feedback import FeedbackService, TurnNotFoundError
from tests.conftest import Tutor
from tests.integration.db_fixtures import db_engine
from tests.integration.teaching.helpers import (
    ANSWER,
    COURSE,
    QUESTION,
    cache_keys,
    http,
    one_turn,
    record_turn,
)
from tests.support.client import ask, connect, recv
from tests.support.scripted_openai import Reply

pytestmark = pytest.mark.integration
__all__ = ["db_engine"]


async def test_feedback_frame_is_acknowledged_and_refused_for_unknown_turns(tutor: Tutor) -> None:
    tutor.llm.script(Reply.from_text(ANSWER))
    ws, _ = await connect(tutor.url, user_id="s1", course_id=COURSE)
    async with ws:
        final = (await ask(ws, QUESTION)).final
        turn_id = final["metadata"]["turn_id"]
        # sent right after chat_response: the server waits for the turn's record
        await ws.send(json.dumps({"type": "feedback", "turn_id": turn_id, "rating": "up"}))
        ack = await recv(ws)
        SERVER_MESSAGE.validate_python(ack)
        assert ack["type"] == "feedback_ack" and ack["turn_id"] == turn_id
        assert ack["rating"] == "up" and ack["held_for_review"] is False

        await ws.send(json.dumps({"type": "feedback", "turn_id": "nosuchturn", "rating": "down"}))
        refused = await recv(ws)
        assert refused["type"] == "error" and refused["error_code"] == "TURN_NOT_FOUND"
        assert refused["recoverable"] is True

        for bad in (
            {"type": "feedback", "turn_id": turn_id, "rating": "meh"},
            {"type": "feedback", "turn_id": "a/b", "rating": "up"},
            {"type": "feedback", "turn_id": turn_id, "rating": "up", "comment": "x" * 2001},
        ):
            await ws.send(json.dumps(bad))
            error = await recv(ws)
            assert error["error_code"] == "INVALID_REQUEST", error
        await ws.send(json.dumps({"type": "ping"}))
        assert (await recv(ws))["type"] == "pong"  # the connection is still usable


async def test_http_feedback_rates_once_per_rater_and_404s_unknown_turns(tutor: Tutor) -> None:
    tutor.llm.script(Reply.from_text(ANSWER))
    turn_id = (await one_turn(tutor, QUESTION, user="s2"))["metadata"]["turn_id"]
    with http(tutor, "s2") as client:
        first = client.post(
            f"/turns/{turn_id}/feedback", json={"rating": "down", "comment": "  too vague  "}
        )
        assert first.status_code == 200, first.text
        assert first.json()["comment"] == "too vague" and first.json()["rating"] == "down"
        again = client.post(f"/turns/{turn_id}/feedback", json={"rating": "up"})
        assert again.json()["rating"] == "up" and again.json()["comment"] is None
        missing = client.post("/turns/nosuchturn/feedback", json={"rating": "up"})
        assert missing.status_code == 404
        assert missing.json()["detail"] == "None of your answers has this turn id."
        assert client.post(f"/turns/{turn_id}/feedback", json={"rating": 1}).status_code == 422
    with http(tutor, "") as anonymous:
        assert (
            anonymous.post(f"/turns/{turn_id}/feedback", json={"rating": "up"}).status_code == 401
        )
    engine_url = tutor.settings.resolved_database_url
    from app.db.engine import create_engine

    engine = create_engine(engine_url, 5.0)
    try:
        assert await FeedbackStore(Database(engine, 5.0)).count(COURSE) == 1
    finally:
        await engine.dispose()


async def test_a_student_cannot_rate_another_students_turn(db_engine: AsyncEngine) -> None:
    repository = ChatRepository(db_engine, 5.0)
    turn = TurnRecord(
        user_id="alice", course_id=COURSE, query="q", answer="a", response_source="rag"
    )
    await repository.record_turn(turn)
    service = FeedbackService(FeedbackStore(Database(db_engine, 5.0)), None)
    bob = Principal("bob", "student", frozenset({COURSE}))
    with pytest.raises(TurnNotFoundError):
        await service.submit(bob, turn.id, "down", "not mine")
    other_staff = Principal("lect2", "staff", frozenset({"another_course"}))
    with pytest.raises(TurnNotFoundError):
        await service.submit(other_staff, turn.id, "down", None)
    alice = Principal("alice", "student", frozenset({COURSE}))
    assert (await service.submit(alice, turn.id, "down", "wrong")).feedback.user_id == "alice"
    staff = Principal("lect1", "staff", frozenset({COURSE}))
    assert (await service.submit(staff, turn.id, "up", None)).feedback.user_id == "lect1"
    assert await FeedbackStore(Database(db_engine, 5.0)).count(COURSE) == 2


async def test_downvote_holds_the_cached_answer_until_a_lecturer_reviews_it(tutor: Tutor) -> None:
    tutor.llm.script(Reply.from_text(ANSWER))
    assert (await one_turn(tutor, QUESTION, user="s1"))["cached"] is False
    assert (await one_turn(tutor, QUESTION, user="s2"))["cached"] is True
    [key] = cache_keys(tutor)
    # the turn as the turn path records it once it remembers the cache entry it served
    served = await record_turn(tutor, user_id="s2", query=QUESTION, cached=True, cache_key=key)

    with http(tutor, "s2") as student:
        rated = student.post(
            f"/turns/{served.id}/feedback", json={"rating": "down", "comment": "Salah halaman"}
        )
    assert rated.status_code == 200 and rated.json()["held_for_review"] is True
    assert cache_keys(tutor) == []

    fresh = "Manajemen infrastruktur TI adalah kegiatan merencanakan dan memelihara sumber daya TI (hal. 2)."
    tutor.llm.script(Reply.from_text(fresh))
    again = await one_turn(tutor, QUESTION, user="s3")
    assert again["cached"] is False and again["response"] == fresh

    with http(tutor) as lecturer:
        [item] = lecturer.get(f"/courses/{COURSE}/reviews").json()
        assert item["question"].lower().startswith("apa itu manajemen")
        assert item["answer"] == ANSWER and item["downvotes"] == 1
        assert item["comments"] == ["Salah halaman"] and item["turn_id"] == served.id
        assert lecturer.get("/courses/course_net_en_01/reviews").json() == []
        restored = lecturer.post(f"/courses/{COURSE}/reviews/{item['entry_id']}/restore")
        assert restored.status_code == 204
        assert lecturer.get(f"/courses/{COURSE}/reviews").json() == []
        gone = lecturer.post(f"/courses/{COURSE}/reviews/{item['entry_id']}/restore")
        assert gone.status_code == 404
    back = await one_turn(tutor, QUESTION, user="s4")
    assert back["cached"] is True and back["response"] == ANSWER

    with http(tutor, "s2") as student:
        assert student.post(f"/turns/{served.id}/feedback", json={"rating": "down"}).json()[
            "held_for_review"
        ]
    with http(tutor) as lecturer:
        [item] = lecturer.get(f"/courses/{COURSE}/reviews").json()
        wrong_course = lecturer.delete(f"/courses/course_net_en_01/reviews/{item['entry_id']}")
        assert wrong_course.status_code == 404
        assert lecturer.delete(f"/courses/{COURSE}/reviews/{item['entry_id']}").status_code == 204
    assert cache_keys(tutor) == []
    tutor.llm.script(Reply.from_text(fresh))
    assert (await one_turn(tutor, QUESTION, user="s5"))["cached"] is False


async def test_downvote_over_the_socket_of_a_cached_answer_holds_it(tutor: Tutor) -> None:
    tutor.llm.script(Reply.from_text(ANSWER))
    await one_turn(tutor, QUESTION, user="s1")
    ws, _ = await connect(tutor.url, user_id="s2", course_id=COURSE)
    async with ws:
        final = (await ask(ws, QUESTION)).final
        assert final["cached"] is True
        turn_id = final["metadata"]["turn_id"]
        await ws.send(json.dumps({"type": "feedback", "turn_id": turn_id, "rating": "down"}))
        ack = await asyncio.wait_for(recv(ws), 10)
    assert ack["type"] == "feedback_ack" and ack["held_for_review"] is True
    assert cache_keys(tutor) == []


async def test_a_downvote_holds_the_entry_a_personalized_or_fresh_answer_is_built_on(
    tutor: Tutor,
) -> None:
    tutor.llm.script(Reply.from_text(ANSWER))
    fresh = await one_turn(tutor, QUESTION, user="s1")  # its answer went into the cache
    with http(tutor, "p1") as client:
        assert client.put("/users/p1/profile", json={"level": "pemula"}).status_code == 200
    tutor.llm.script(Reply.from_text("Versi untuk pemula (hal. 1)."))
    personal = await one_turn(tutor, QUESTION, user="p1", use_personalization=True)
    assert personal["cached"] is True and personal["metadata"]["personalized"] is True
    # the rewrite is built on the cached entry: a downvote is about that content
    with http(tutor, "p1") as student:
        rated = student.post(
            f"/turns/{personal['metadata']['turn_id']}/feedback", json={"rating": "down"}
        )
    assert rated.json()["held_for_review"] is True and cache_keys(tutor) == []
    with http(tutor) as lecturer:
        [item] = lecturer.get(f"/courses/{COURSE}/reviews").json()
        assert lecturer.post(f"/courses/{COURSE}/reviews/{item['entry_id']}/restore").is_success
    with http(tutor, "s1") as student:
        rated = student.post(
            f"/turns/{fresh['metadata']['turn_id']}/feedback", json={"rating": "down"}
        )
    assert rated.json()["held_for_review"] is True and cache_keys(tutor) == []
    tutor.llm.script(Reply.from_text("Jawaban baru (hal. 2)."))
    assert (await one_turn(tutor, QUESTION, user="s6"))["cached"] is False
