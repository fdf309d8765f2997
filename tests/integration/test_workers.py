"""Several server processes share everything through Redis and PostgreSQL: two `tutor-serve`
processes on different ports, and one with two uvicorn workers (merged /metrics)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from app.db.engine import create_engine
from tests.conftest import reset_runtime_state
from tests.support.client import Frame, ask, connect, recv
from tests.support.databases import fresh_database
from tests.support.scripted_openai import Reply, ScriptedOpenAI
from tests.support.serve import serve_process
from tests.support.settings import REDIS_URL

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

DEFINITION = "Apa itu manajemen infrastruktur TI?"


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[str]:
    async with fresh_database("postgres", tmp_path) as url:
        yield url


def environment(
    sample_index: str, database: str, llm: ScriptedOpenAI, **extra: str
) -> dict[str, str]:
    return {
        "KEY_PREFIX": sample_index,
        "REDIS_KNOWLEDGE_URL": REDIS_URL,
        "REDIS_CACHE_URL": REDIS_URL,
        "DATABASE_URL": database,
        "OPENAI_API_BASE": llm.base_url,
        "OPENAI_MODEL_COMPREHENSIVE": "gpt-4o-mini",
        "EMBEDDING_PROVIDER": "local",
        "PRESENCE_HEARTBEAT_SECONDS": "1",
        "RAG_GROUNDING": "off",  # scripted filler answers are not material
        **extra,
    }


async def count_turns(database: str) -> int:
    engine = create_engine(database, 5.0)
    try:
        async with engine.connect() as connection:
            return int((await connection.execute(text("SELECT count(*) FROM turns"))).scalar_one())
    finally:
        await engine.dispose()


async def eventually(check: object, seconds: float = 15.0) -> None:
    async with asyncio.timeout(seconds):
        while not await check():  # type: ignore[operator]
            await asyncio.sleep(0.1)


async def test_two_server_processes_share_status_limits_cache_and_the_database(
    sample_index: str, scripted_llm: ScriptedOpenAI, database: str, tmp_path: Path
) -> None:
    reset_runtime_state(REDIS_URL, sample_index)
    scripted_llm.default = Reply.from_text("Jawaban bersama.")
    env = environment(sample_index, database, scripted_llm, RATE_LIMIT_REQUESTS="3")
    try:
        with serve_process(tmp_path / "a", env) as a, serve_process(tmp_path / "b", env) as b:
            # both migrated the same database at start (one under the lock, one found it done)
            ws_a, _ = await connect(a.url, user_id="shared-user", course_id="course_tik_01")
            ws_b, _ = await connect(b.url, user_id="shared-user", course_id="course_tik_01")
            async with ws_a, ws_b, httpx.AsyncClient() as http:
                status = (await http.get(f"{b.url}/ws/status")).json()
                assert status["active_connections"] >= 2
                assert "shared-user" in status["connected_users"]
                first = await ask(ws_a, DEFINITION)
                assert first.final["type"] == "chat_response" and not first.final["cached"]
                second = await ask(ws_b, DEFINITION)  # the other process's cache entry
                assert second.final["type"] == "chat_response" and second.final["cached"]
                third = await ask(ws_a, "Sebutkan lima tahap perencanaan infrastruktur TI.")
                assert third.final["type"] == "chat_response"
                await ws_b.send(json.dumps({"type": "chat_request", "query": DEFINITION}))
                limited = await recv(ws_b)  # 3 per user in all, whichever process counted
                assert limited["error_code"] == "RATE_LIMIT_EXCEEDED"

                async def counted() -> bool:
                    stats = (await http.get(f"{a.url}/ws/status")).json()["performance_stats"]
                    return bool(stats["total_requests_today"] == 3)

                await eventually(counted)
            assert len(scripted_llm.chat_requests) == 2  # the cached answer cost no LLM call

            async def recorded() -> bool:
                return await count_turns(database) == 3

            await eventually(recorded)
    finally:
        reset_runtime_state(REDIS_URL, sample_index)


async def test_an_answer_on_a_draining_process_is_dropped_and_resumed_on_another(
    sample_index: str, scripted_llm: ScriptedOpenAI, database: str, tmp_path: Path
) -> None:
    reset_runtime_state(REDIS_URL, sample_index)
    tokens = [f" kata{i}" for i in range(150)]
    scripted_llm.default = Reply(tokens=tokens, delay_s=0.03)  # ~4.5 s of answer
    env = environment(sample_index, database, scripted_llm, CACHE_ENABLED="false")
    try:
        with serve_process(tmp_path / "a", env) as a, serve_process(tmp_path / "b", env) as b:
            ws_a, _ = await connect(a.url, user_id="mover", course_id="course_tik_01")
            await ws_a.send(json.dumps({"type": "chat_request", "query": DEFINITION}))
            started = await recv(ws_a)
            turn_id = started["metadata"]["turn_id"]
            before = [await recv(ws_a) for _ in range(2)]
            # A is told to stop (preStop): its answer keeps streaming while it drains
            async with httpx.AsyncClient(timeout=60) as http:
                draining = asyncio.create_task(http.get(f"{a.url}/drain"))
                await eventually(lambda: _draining(http, a.url))
                before.append(await recv(ws_a))
                assert [f["chunk_index"] for f in before] == [1, 2, 3]
                ws_a.transport.abort()  # gone without a close frame, mid-answer
                drained = await _resume_on_b(b.url, turn_id)
                assert (await draining).json() == {"status": "drained", "answers_running": 0}
            after, refused = drained
            final = after[-1]
            assert final["type"] == "chat_response", final
            assert final["metadata"]["turn_id"] == turn_id
            indexes = [f["chunk_index"] for f in after[:-1]]
            assert indexes == list(range(4, final["chunks_count"] + 1))
            text = "".join(f["chunk"] for f in before + after[:-1])
            assert text.strip() == final["response"] == "".join(tokens).strip()
            assert refused["type"] == "error" and refused["error_code"] == "TURN_NOT_FOUND"
            assert scripted_llm.cancelled == 0  # A kept answering after the drop
    finally:
        reset_runtime_state(REDIS_URL, sample_index)


async def test_two_workers_in_one_process_merge_their_metrics(
    sample_index: str, scripted_llm: ScriptedOpenAI, database: str, tmp_path: Path
) -> None:
    reset_runtime_state(REDIS_URL, sample_index)
    env = environment(sample_index, database, scripted_llm)
    try:
        with serve_process(tmp_path / "w", env, workers=2) as server:
            assert server.log_text().count("course tutor ready") == 2
            sockets = [(await connect(server.url, user_id=f"m{i}"))[0] for i in range(8)]
            try:
                async with httpx.AsyncClient() as http:
                    gauges = []
                    for _ in range(4):  # whichever worker answers reports all of them
                        body = (await http.get(f"{server.url}/metrics")).text
                        gauges.append(_gauge(body, "tutor_ws_connections"))
                    assert gauges == [8.0] * 4
            finally:
                await asyncio.gather(*(ws.close() for ws in sockets))
    finally:
        reset_runtime_state(REDIS_URL, sample_index)


async def _draining(http: httpx.AsyncClient, url: str) -> bool:
    ready = await http.get(f"{url}/ready")
    return ready.status_code == 503 and ready.json()["checks"].get("draining") == "yes"


async def _resume_on_b(url: str, turn_id: str) -> tuple[list[Frame], Frame]:
    """The owner resumes from chunk 3 on B (every frame to the end); someone else is refused."""
    ws_b, _ = await connect(url, user_id="mover", course_id="course_tik_01")
    other, _ = await connect(url, user_id="someone-else", course_id="course_tik_01")
    async with ws_b, other:
        resume = {"type": "resume", "turn_id": turn_id, "last_chunk_index": 3}
        await ws_b.send(json.dumps(resume))
        after = [await recv(ws_b)]
        while after[-1]["type"] == "chat_chunk":
            after.append(await recv(ws_b))
        await other.send(json.dumps(resume))
        return after, await recv(other)


def _gauge(body: str, name: str) -> float:
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            if sample.name == name:
                return float(sample.value)
    raise AssertionError(f"{name} not in /metrics")
