"""Abuse limits keyed by identity and client IP, course-id normalization, and tickets kept out of
the server log — each against a real server with the settings under test."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.support.auth import SECRET, mint
from tests.support.client import ask, connect, recv, stream_url
from tests.support.scripted_openai import Reply, ScriptedOpenAI
from tests.support.tutor import serve_tutor

pytestmark = pytest.mark.integration
QUESTION = "Apa itu manajemen infrastruktur TI?"
Serve = Callable[..., AbstractContextManager[tuple[str, Any]]]


@pytest.fixture
def serve(sample_index: str, scripted_llm: ScriptedOpenAI, tmp_path: Path) -> Iterator[Serve]:
    def start(**overrides: Any) -> AbstractContextManager[tuple[str, Any]]:
        return serve_tutor(sample_index, scripted_llm, tmp_path, **overrides)

    yield start


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_question_limit_per_client_ip_spans_users(serve: Serve) -> None:
    with serve(rate_limit_requests=100, rate_limit_ip_requests=2) as (url, _):
        answers = []
        for user in ("ip-a", "ip-b", "ip-c"):  # rotating user ids buys nothing
            ws, _hello = await connect(url, user_id=user, course_id="course_tik_01")
            async with ws:
                answers.append((await ask(ws, QUESTION)).final)
    assert [a["type"] for a in answers] == ["chat_response", "chat_response", "error"]
    assert answers[2]["error_code"] == "RATE_LIMIT_EXCEEDED"
    assert "network" in answers[2]["error"] and "Try again in" in answers[2]["error"]


async def test_question_limit_is_a_moving_window_without_an_edge_burst(serve: Serve) -> None:
    """Two questions late in a clock-aligned 4 s window, then one just after its edge: a fixed
    window would let the third through (twice the limit within a second); the moving one does not."""
    window = 4
    with serve(rate_limit_requests=2, rate_limit_window_seconds=window) as (url, _):
        ws, _hello = await connect(url, user_id="edge", course_id="course_tik_01")
        async with ws:
            await asyncio.sleep((window - 1.0 - time.time() % window) % window)
            kinds = [(await ask(ws, QUESTION)).final["type"] for _ in range(2)]
            await asyncio.sleep(window - time.time() % window + 0.1)  # into the next window
            third = (await ask(ws, QUESTION)).final
            await asyncio.sleep(window)  # the first two have left the window
            fourth = (await ask(ws, QUESTION)).final
    assert kinds == ["chat_response", "chat_response"]
    assert third["error_code"] == "RATE_LIMIT_EXCEEDED" and "per user" in third["error"]
    assert fourth["type"] == "chat_response"


async def test_connections_per_user_are_capped_and_released(serve: Serve) -> None:
    with serve(ws_max_connections_per_user=2) as (url, _):
        first, _ = await connect(url, user_id="many-tabs", course_id="course_tik_01")
        second, _ = await connect(url, user_id="many-tabs", course_id="course_tik_01")
        third, refused = await connect(url, user_id="many-tabs", course_id="course_tik_01")
        await third.close()
        assert refused["error_code"] == "RATE_LIMIT_EXCEEDED" and "connections" in refused["error"]
        other, hello = await connect(url, user_id="someone-else", course_id="course_tik_01")
        await other.close()
        assert hello["type"] == "connection"
        await first.close()
        await first.wait_closed()
        for _ in range(50):  # the slot is released when the server sees the close
            again, hello = await connect(url, user_id="many-tabs", course_id="course_tik_01")
            await again.close()
            if hello["type"] == "connection":
                break
        assert hello["type"] == "connection"
        await second.close()


async def test_connections_per_ip_are_capped(serve: Serve) -> None:
    with serve(ws_max_connections_per_ip=1) as (url, _):
        first, _ = await connect(url, user_id="ip-one", course_id="course_tik_01")
        second, refused = await connect(url, user_id="ip-two", course_id="course_tik_01")
        await second.close()
        await first.close()
    assert refused["error_code"] == "RATE_LIMIT_EXCEEDED" and "network" in refused["error"]


async def test_daily_token_budget(serve: Serve, scripted_llm: ScriptedOpenAI) -> None:
    scripted_llm.default = Reply.from_text(
        "Jawaban singkat.", prompt_tokens=40, completion_tokens=20
    )
    with serve(user_daily_token_budget=50) as (url, _):
        ws, _hello = await connect(url, user_id="spender", course_id="course_tik_01")
        async with ws:
            first = (await ask(ws, QUESTION)).final
            for _ in range(50):  # the spend is charged when the turn is recorded
                second = (await ask(ws, QUESTION + " Lagi?")).final
                if second["type"] == "error":
                    break
    assert first["type"] == "chat_response"
    assert second["error_code"] == "RATE_LIMIT_EXCEEDED" and "budget" in second["error"]
    assert "00:00 UTC" in second["error"] and "Try again in" in second["error"]


@pytest.mark.parametrize("raw", ["course_tik_01 ", "course_tik_01\n", " course_tik_01"])
async def test_course_id_with_stray_whitespace_means_the_course(serve: Serve, raw: str) -> None:
    with serve() as (url, _):
        ws, hello = await connect(url, user_id="spacey", course_id=raw)
        async with ws:
            final = (await ask(ws, QUESTION)).final
    assert hello["course_id"] == "course_tik_01"
    assert final["type"] == "chat_response" and final["sources"]
    assert {s["metadata"]["course_id"] for s in final["sources"]} == {"course_tik_01"}


async def test_tickets_never_reach_the_server_log(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with serve(log_level="info", auth_mode="token", auth_jwt_secret=SECRET) as (url, _):
        async with httpx.AsyncClient(base_url=url) as http:
            ticket = (await http.post("/auth/ticket", headers=bearer(mint()))).json()["ticket"]
            ws = await websockets.connect(stream_url(url, ticket=ticket))
            async with ws:
                assert (await recv(ws))["type"] == "connection"
            await http.get("/", params={"ticket": ticket, "course_id": "course_tik_01"})
    lines = [r.getMessage() for r in caplog.records]
    assert any("/ws/stream?ticket=[redacted]" in line for line in lines), lines
    assert any("GET /?ticket=[redacted]" in line for line in lines), lines
    assert not any(ticket in line for line in lines)


async def test_none_mode_me_and_ticket_keep_working(serve: Serve) -> None:
    with serve() as (url, _):
        async with httpx.AsyncClient(base_url=url) as http:
            me = (await http.get("/auth/me", headers={"X-User-Id": "laptop"})).json()
            ticket = (await http.post("/auth/ticket", headers={"X-User-Id": "laptop"})).json()
        ws = await websockets.connect(stream_url(url, ticket=ticket["ticket"]))
        async with ws:
            hello = await recv(ws)
    assert me == {"auth_mode": "none", "user_id": "laptop", "role": "staff", "courses": ["*"]}
    assert hello["user_id"] == "laptop" and hello["course_id"] is None


async def test_issuer_is_checked_when_configured(serve: Serve) -> None:
    issuer = "https://idp.example.edu"
    with serve(auth_mode="token", auth_jwt_secret=SECRET, auth_issuer=issuer) as (url, _):
        async with httpx.AsyncClient(base_url=url) as http:
            results = {
                name: await http.get("/auth/me", headers=bearer(token))
                for name, token in (
                    ("right", mint(iss=issuer)),
                    ("wrong", mint(iss="https://rogue.example")),
                    ("missing", mint()),
                )
            }
    assert results["right"].status_code == 200
    assert results["wrong"].status_code == 401 and "iss" in results["wrong"].json()["detail"]
    assert results["missing"].status_code == 401
