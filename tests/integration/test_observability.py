"""What an operator sees: Prometheus metrics that follow real turns, /health and /ready, a drain
that lets the answer in flight finish, and JSON log lines that name their connection and turn."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Callable

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.observability.logs import RequestIds, json_formatter
from tests.conftest import Tutor
from tests.support.client import ask, connect, recv
from tests.support.scripted_openai import Reply

pytestmark = pytest.mark.integration

DEFINITION = "Apa itu manajemen infrastruktur TI?"


async def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with httpx.AsyncClient(base_url=url) as http:
        response = await http.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


async def test_metrics_follow_connections_turns_tokens_cost_errors_and_cache(tutor: Tutor) -> None:
    tutor.llm.default = Reply.from_text(
        "Jawaban dari materi.", prompt_tokens=100, completion_tokens=4
    )
    ws, _ = await connect(tutor.url, user_id="metered", course_id="course_tik_01")
    async with ws:
        during = await scrape(tutor.url)
        assert during[("tutor_ws_connections", ())] == 1
        assert (await ask(ws, DEFINITION)).final["cached"] is False
        assert (await ask(ws, DEFINITION)).final["cached"] is True
        await ws.send('{"type": "chat_request", "query": "  "}')
        assert (await recv(ws))["error_code"] == "EMPTY_QUERY"
    for _ in range(50):  # the turn is counted when its record is handed over, just after
        after = await scrape(tutor.url)
        if after.get(("tutor_turns_total", (("course", "course_tik_01"), ("source", "cache")))):
            break
        await asyncio.sleep(0.05)
    assert after[("tutor_ws_connections", ())] == 0
    assert after[("tutor_turns_total", (("course", "course_tik_01"), ("source", "rag")))] == 1
    assert after[("tutor_turns_total", (("course", "course_tik_01"), ("source", "cache")))] == 1
    assert after[("tutor_tokens_total", (("kind", "input"), ("model", "gpt-4o-mini")))] == 100
    assert after[("tutor_tokens_total", (("kind", "output"), ("model", "gpt-4o-mini")))] == 4
    assert after[("tutor_cost_usd_total", (("model", "gpt-4o-mini"),))] == pytest.approx(
        100 / 1000 * 0.00015 + 4 / 1000 * 0.0006
    )
    assert after[("tutor_errors_total", (("code", "EMPTY_QUERY"),))] == 1
    assert after[("tutor_cache_lookups_total", (("result", "miss"),))] == 1
    assert after[("tutor_cache_lookups_total", (("result", "hit"),))] == 1
    assert after[("tutor_first_chunk_seconds_count", ())] == 2
    assert after[("tutor_turn_seconds_count", ())] == 2


async def test_health_and_ready_name_what_is_down(tutor_factory: Callable[..., Tutor]) -> None:
    up = tutor_factory()
    async with httpx.AsyncClient(base_url=up.url) as http:
        assert (await http.get("/health")).json() == {"status": "ok"}
        ready = await http.get("/ready")
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"redis": "ok", "database": "ok", "llm": "ok"}
    no_llm = tutor_factory(openai_api_base="http://127.0.0.1:9/v1")
    async with httpx.AsyncClient(base_url=no_llm.url) as http:
        ready = await http.get("/ready")
        assert ready.status_code == 503 and ready.json()["checks"]["llm"].startswith("down")
        assert (await http.get("/health")).status_code == 200


async def test_drain_lets_the_answer_in_flight_finish_and_refuses_new_work(tutor: Tutor) -> None:
    tutor.llm.script(Reply(tokens=[f" kata{i}" for i in range(30)], delay_s=0.03))
    ws, _ = await connect(tutor.url, user_id="draining", course_id="course_tik_01")
    async with ws, httpx.AsyncClient(base_url=tutor.url, timeout=30) as http:
        await ws.send(json.dumps({"type": "chat_request", "query": DEFINITION}))
        while (await recv(ws))["type"] != "chat_chunk":
            pass
        drained = asyncio.create_task(http.get("/drain"))
        for _ in range(100):
            if (await http.get("/ready")).status_code == 503:
                break
            await asyncio.sleep(0.02)
        assert (await http.get("/ready")).json()["checks"]["draining"] == "yes"
        frames = [await recv(ws)]
        while frames[-1]["type"] != "chat_response":
            frames.append(await recv(ws))
        streamed = "".join(f["chunk"] for f in frames if f["type"] == "chat_chunk")
        assert streamed.strip().endswith("kata29")  # the answer finished streaming
        result = (await drained).json()
        assert result == {"status": "drained", "answers_running": 0}
        await ws.send(json.dumps({"type": "chat_request", "query": DEFINITION}))
        assert (await recv(ws))["error_code"] == "SERVICE_UNAVAILABLE"
    refused, error = await connect(tutor.url, user_id="late")
    async with refused:
        assert error["error_code"] == "SERVICE_UNAVAILABLE"


async def test_json_logs_carry_connection_and_turn_ids(
    tutor_factory: Callable[..., Tutor],
) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    handler.addFilter(RequestIds())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        tutor = tutor_factory(log_level="DEBUG", log_format="json")
        tutor.llm.script(Reply.from_text("Ok.", prompt_tokens=11, completion_tokens=2))
        ws, hello = await connect(tutor.url, user_id="logged-json", course_id="course_tik_01")
        async with ws:
            turn = await ask(ws, DEFINITION)
    finally:
        root.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    connection_id, turn_id = hello["connection_id"], turn.final["metadata"]["turn_id"]
    mine = [line for line in lines if line.get("connection_id") == connection_id]
    assert any("<- chat_request" in line["message"] for line in mine)
    assert any(line.get("turn_id") == turn_id and "usage" in line["message"] for line in mine)
    assert {"time", "level", "logger", "message"} <= set(mine[0])
