"""Semantic cache, personalization, chatroom history and turn records, through the real server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.embeddings import LocalE5Embedding
from app.services.lexical import normalize_question
from tests.conftest import Tutor
from tests.support.client import ask, connect, recv
from tests.support.databases import fresh_database
from tests.support.ingest import ingest_paths
from tests.support.pdfs import make_pdf
from tests.support.scripted_openai import Reply

pytestmark = pytest.mark.integration

QUESTION = "Apa itu manajemen infrastruktur TI?"
ANSWER = "Manajemen infrastruktur TI adalah kegiatan merencanakan dan memelihara sumber daya TI (hal. 1)."


def distance(a: str, b: str) -> float:
    model = LocalE5Embedding()
    va = np.array(model.get_query_embedding(normalize_question(a)))
    vb = np.array(model.get_query_embedding(normalize_question(b)))
    return float(1 - va @ vb / (np.linalg.norm(va) * np.linalg.norm(vb)))


async def one_turn(
    tutor: Tutor, question: str, user: str = "s1", course: str = "course_tik_01", **fields: Any
) -> dict[str, Any]:
    ws, _ = await connect(tutor.url, user_id=user, course_id=course)
    async with ws:
        turn = await ask(ws, question, **fields)
    final = turn.final
    assert final["type"] == "chat_response", final
    if turn.chunks:
        assert "".join(c["chunk"] for c in turn.chunks) == final["response"]
    assert final["chunks_count"] == len(turn.chunks) >= 1
    return final


async def test_repeat_question_is_served_from_the_cache(tutor: Tutor) -> None:
    tutor.llm.script(Reply.from_text(ANSWER, prompt_tokens=400, completion_tokens=25))
    first = await one_turn(tutor, QUESTION)
    second = await one_turn(tutor, QUESTION, user="s2")
    assert first["cached"] is False and first["response_source"] == "rag"
    assert second["cached"] is True and second["response_source"] == "cache"
    meta = second["metadata"]
    assert meta["source"] == "cache" and meta["source_type"] == "semantic_cache"
    assert meta["response_type"] == "cached_response" and meta["cache_distance"] <= 0.001
    assert second["response"] == first["response"] == ANSWER
    assert second["sources"] == first["sources"]
    assert second["token_usage"]["total_tokens"] == 0 and meta["cost_usd"] == 0.0
    assert len(tutor.llm.chat_requests) == 1


async def test_cache_threshold_edges(tutor_factory: Callable[..., Tutor]) -> None:
    paraphrase = "Jelaskan apa yang dimaksud manajemen infrastruktur TI"
    gap = distance(QUESTION, paraphrase)
    tight = tutor_factory(cache_distance_threshold=max(gap - 0.005, 0.0))
    tight.llm.default = Reply.from_text(ANSWER)
    await one_turn(tight, QUESTION)
    assert (await one_turn(tight, paraphrase))["cached"] is False
    loose = tutor_factory(cache_distance_threshold=gap + 0.005)
    await one_turn(loose, QUESTION)
    hit = await one_turn(loose, paraphrase)
    assert hit["cached"] is True and hit["metadata"]["cache_distance"] == pytest.approx(
        gap, abs=2e-3
    )


async def test_same_question_in_another_course_misses(tutor: Tutor) -> None:
    tutor.llm.default = Reply.from_text("Routers forward packets between networks (p. 3).")
    question = "What does a router do?"
    assert (await one_turn(tutor, question, course="course_net_en_01"))["cached"] is False
    other = await one_turn(tutor, question, course="course_tik_01")
    assert other["cached"] is False
    assert (await one_turn(tutor, question, course="course_net_en_01"))["cached"] is True


async def test_not_covered_and_failed_answers_are_never_cached(tutor: Tutor) -> None:
    off_topic = "Siapa pemenang piala dunia sepak bola tahun 2018?"
    for _ in range(2):
        assert (await one_turn(tutor, off_topic))["response_source"] == "not_covered"
    tutor.llm.script(Reply(status=500), Reply.from_text(ANSWER))
    ws, _ = await connect(tutor.url, user_id="s3", course_id="course_tik_01")
    async with ws:
        assert (await ask(ws, QUESTION)).final["error_code"] == "SERVICE_UNAVAILABLE"
        after = (await ask(ws, QUESTION)).final
    assert after["cached"] is False and after["response"] == ANSWER


async def put_profile(tutor: Tutor, user: str, **profile: str) -> None:
    async with httpx.AsyncClient(base_url=tutor.url) as http:
        response = await http.put(f"/users/{user}/profile", json=profile)
        assert response.status_code == 200, response.text


async def test_personalization_on_a_miss_rewrites_the_fresh_answer(tutor: Tutor) -> None:
    await put_profile(
        tutor, "p1", level="semester 1", preferred_language="id", study_program="Sistem Informasi"
    )
    personal = "Untuk mahasiswa semester 1: manajemen infrastruktur TI itu merencanakan dan merawat TI (hal. 1)."
    tutor.llm.script(
        Reply.from_text(ANSWER, prompt_tokens=500, completion_tokens=20),
        Reply.from_text(personal, prompt_tokens=120, completion_tokens=22),
    )
    final = await one_turn(tutor, QUESTION, user="p1", use_personalization=True)
    assert final["response"] == personal and final["cached"] is False
    meta = final["metadata"]
    assert meta["personalized"] is True and meta["model_used"] == "gpt-4o-nano"
    calls = final["token_usage"]["calls"]
    assert [(c["purpose"], c["model"]) for c in calls] == [
        ("answer", "gpt-4o-mini"),
        ("personalize", "gpt-4o-nano"),
    ]
    assert (
        final["token_usage"]["input_tokens"] == 620 and final["token_usage"]["output_tokens"] == 42
    )
    expected = 500 / 1000 * 0.00015 + 20 / 1000 * 0.0006 + 120 / 1000 * 0.0001 + 22 / 1000 * 0.0004
    assert meta["cost_usd"] == pytest.approx(expected)
    rewrite = tutor.llm.chat_requests[1]
    assert rewrite["model"] == "gpt-4o-nano"
    prompt = rewrite["messages"][1]["content"]
    assert "level: semester 1" in prompt and "Sistem Informasi" in prompt and ANSWER in prompt
    # the cache holds the grounded answer, never the personalized text
    plain = await one_turn(tutor, QUESTION, user="p2")
    assert plain["cached"] is True and plain["response"] == ANSWER


async def test_personalization_on_a_hit_costs_only_the_rewrite(tutor: Tutor) -> None:
    tutor.llm.script(Reply.from_text(ANSWER))
    await one_turn(tutor, QUESTION, user="p3")
    await put_profile(tutor, "p4", level="pemula")
    tutor.llm.script(Reply.from_text("Versi pemula.", prompt_tokens=90, completion_tokens=4))
    final = await one_turn(tutor, QUESTION, user="p4", use_personalization=True)
    assert final["cached"] is True and final["metadata"]["personalized"] is True
    assert final["response"] == "Versi pemula."
    assert [c["purpose"] for c in final["token_usage"]["calls"]] == ["personalize"]
    assert final["token_usage"]["total_tokens"] == 94


async def test_personalization_without_profile_or_history_is_skipped(tutor: Tutor) -> None:
    tutor.llm.script(Reply.from_text(ANSWER))
    final = await one_turn(tutor, QUESTION, user="nobody-known", use_personalization=True)
    assert final["metadata"]["personalized"] is False and len(tutor.llm.chat_requests) == 1


async def test_follow_up_is_condensed_with_the_rooms_history_and_rooms_are_per_user(
    tutor: Tutor,
) -> None:
    tutor.llm.script(
        Reply.from_text(ANSWER),
        Reply.from_text("Apa saja komponen utama infrastruktur TI?"),  # condensed follow-up
        Reply.from_text("Komponennya: perangkat keras, perangkat lunak, jaringan (hal. 2)."),
    )
    ws, _ = await connect(tutor.url, user_id="alice", course_id="course_tik_01")
    async with ws:
        await ask(ws, QUESTION, chatroom_id="room-1")
        await asyncio.sleep(0.5)  # the turn is recorded in the background
        follow = (await ask(ws, "Apa saja komponennya?", chatroom_id="room-1")).final
    condense = tutor.llm.chat_requests[1]["messages"][1]["content"]
    assert "<history>" in condense and QUESTION in condense and ANSWER in condense
    assert follow["metadata"]["condensed_query"] == "Apa saja komponen utama infrastruktur TI?"
    assert [c["purpose"] for c in follow["token_usage"]["calls"]] == ["condense", "answer"]
    # bob uses alice's room id: he sees none of her history
    tutor.llm.script(Reply.from_text("Jawaban untuk Bob."))
    ws, _ = await connect(tutor.url, user_id="bob", course_id="course_tik_01")
    async with ws:
        bob = (await ask(ws, "Apa saja komponennya?", chatroom_id="room-1")).final
    last = tutor.llm.chat_requests[-1]["messages"]
    assert all(ANSWER not in m["content"] and "alice" not in m["content"] for m in last)
    assert bob["metadata"]["condensed_query"] is None and len(tutor.llm.chat_requests) == 4


async def test_cached_answers_disappear_when_the_course_material_changes(
    make_settings: Callable[..., Any],
    tutor_factory: Callable[..., Tutor],
    prefix: str,
    tmp_path: Path,
) -> None:
    folder = tmp_path / "jarkom"
    make_pdf(
        folder / "modul.pdf", ["Router adalah perangkat yang meneruskan paket antar jaringan. " * 6]
    )
    settings = make_settings()
    ingest_paths(settings, "jarkom", [folder])
    tutor = tutor_factory(key_prefix=prefix)
    tutor.llm.default = Reply.from_text("Router meneruskan paket (hal. 1).")
    question = "Apa fungsi router?"
    await one_turn(tutor, question, course="jarkom")
    assert (await one_turn(tutor, question, course="jarkom"))["cached"] is True
    make_pdf(
        folder / "modul.pdf", ["Router adalah perangkat lapisan 3 yang memilih rute terbaik. " * 6]
    )
    ingest_paths(settings, "jarkom", [folder])
    tutor.llm.default = Reply.from_text(
        "Router adalah perangkat lapisan 3 yang memilih rute (hal. 1)."
    )
    after = await one_turn(tutor, question, course="jarkom")
    assert after["cached"] is False and "lapisan 3" in after["sources"][0]["content"]


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
async def test_every_turn_is_recorded_once_including_cancelled_ones(
    tutor_factory: Callable[..., Tutor], tmp_path: Path, backend: str
) -> None:
    async with fresh_database(backend, tmp_path) as url:
        tutor = tutor_factory(database_url=url)
        tutor.llm.script(Reply.from_text(ANSWER, prompt_tokens=300, completion_tokens=20))
        done = await one_turn(tutor, QUESTION, user="rec", chatroom_id="r9")
        tutor.llm.script(Reply(tokens=[f" kata{i}" for i in range(400)], delay_s=0.05))
        ws, _ = await connect(tutor.url, user_id="rec", course_id="course_tik_01")
        await ws.send(
            json.dumps(
                {
                    "type": "chat_request",
                    "query": "Sebutkan tahapan perencanaan",
                    "chatroom_id": "r9",
                }
            )
        )
        while (await recv(ws))["type"] != "chat_chunk":
            pass
        await ws.close()
        rows = await _wait_for_rows(url, 2)
        engine_rows = {row["status"]: row for row in rows}
        assert set(engine_rows) == {"completed", "cancelled"}
        completed = engine_rows["completed"]
        assert completed["id"] == done["metadata"]["turn_id"] and completed["answer"] == ANSWER
        assert completed["input_tokens"] == 300 and completed["output_tokens"] == 20
        assert completed["model"] == "gpt-4o-mini" and completed["response_source"] == "rag"
        assert (
            json.loads(completed["sources"])
            if isinstance(completed["sources"], str)
            else completed["sources"]
        )
        assert engine_rows["cancelled"]["answer"].startswith(" kata0") or engine_rows["cancelled"][
            "answer"
        ].startswith("kata0")


async def _wait_for_rows(url: str, count: int) -> list[dict[str, Any]]:
    engine = create_async_engine(url)
    try:
        async with asyncio.timeout(20):
            while True:
                async with engine.connect() as connection:
                    result = await connection.execute(
                        text("SELECT * FROM turns ORDER BY created_at")
                    )
                    rows = [dict(r._mapping) for r in result]
                if len(rows) >= count:
                    assert len(rows) == count
                    return rows
                await asyncio.sleep(0.2)
    finally:
        await engine.dispose()


async def test_database_outage_keeps_answering_and_buffers_the_turn(
    tutor_factory: Callable[..., Tutor],
) -> None:
    import redis.asyncio as aioredis

    from tests.conftest import REDIS_URL

    tutor = tutor_factory(
        database_url="postgresql+asyncpg://postgres@127.0.0.1:1/nowhere", db_auto_migrate=False,
        database_timeout_seconds=2,
    )  # fmt: skip
    tutor.llm.script(Reply.from_text(ANSWER))
    final = await one_turn(tutor, QUESTION, user="outage", chatroom_id="r1")
    assert final["response"] == ANSWER  # history is unavailable, the answer is not
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        key = f"{tutor.settings.key_prefix}:outbox:turns"
        async with asyncio.timeout(20):
            while not await client.llen(key):
                await asyncio.sleep(0.1)
        buffered = json.loads((await client.lrange(key, 0, -1))[0])
        assert buffered["id"] == final["metadata"]["turn_id"] and buffered["answer"] == ANSWER
    finally:
        await client.aclose()
