"""Faults under a running server, each with the documented outcome: real Redis Stack processes,
a real index dropped, a real LLM endpoint misbehaving, a real embedding endpoint down."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from app.core.knowledge import KnowledgeKeys, chunk_schema
from ops import redis_stack
from tests.conftest import SettingsFactory, Tutor
from tests.support.client import ask, connect, recv
from tests.support.ingest import ingest_paths
from tests.support.live_server import live_server
from tests.support.pdfs import make_pdf
from tests.support.scripted_openai import Reply, ScriptedOpenAI
from tests.support.settings import REDIS_URL

pytestmark = pytest.mark.integration

DEFINITION = "Apa itu manajemen infrastruktur TI?"
ROUTER_PAGES = [
    "Router adalah perangkat jaringan yang meneruskan paket antar jaringan berbeda. " * 4,
    "Switch menghubungkan perangkat dalam satu jaringan lokal dan memilah frame. " * 4,
]


MALFORMED = [
    ('{"type": "chat_request", "query": "\\ud800"}', "INVALID_REQUEST"),
    ('{"type": "chat_request", "query": "apa \\udfff itu"}', "INVALID_REQUEST"),
    ('{"type": "chat_request", "query": "a\\u0000b"}', "INVALID_REQUEST"),
    ('{"type": "chat_request", "query": "ok", "chatroom_id": "\\ud800"}', "INVALID_REQUEST"),
    ('{"type": "chat_request", "query": 5}', "INVALID_REQUEST"),
    ('{"type": "chat_request", "query": {"a": 1}}', "INVALID_REQUEST"),
    ('{"type": null}', "INVALID_MESSAGE_TYPE"),
    ('"just a string"', "INVALID_MESSAGE_TYPE"),
    ("[" * 5000 + "]" * 5000, "JSON_PARSE_ERROR"),
    ("", "JSON_PARSE_ERROR"),
]


async def test_malformed_input_gets_a_documented_input_error_never_internal(tutor: Tutor) -> None:
    """A lone surrogate used to reach the database (INTERNAL_ERROR, then a record retried every
    5 s forever); now every malformed frame is refused at the edge with an input error code."""
    ws, _ = await connect(tutor.url, user_id="fuzzed")
    async with ws:
        for frame, code in MALFORMED:
            await ws.send(frame)
            error = await recv(ws)
            assert error["type"] == "error" and error["error_code"] == code, frame[:40]
            assert error["recoverable"] is True
        await ws.send('{"type": "ping"}')
        assert (await recv(ws))["type"] == "pong"
    assert tutor.llm.chat_requests == []


@pytest.mark.parametrize(
    "reply",
    [
        Reply(status=500),
        Reply(hang=True),
        Reply(tokens=["Sebagian", " jawaban", " lalu"], fail_after=2),
        Reply(tokens=["Sebagian"], garbage="{not json"),
    ],
    ids=["http-500", "timeout", "broken-stream", "malformed-json"],
)
async def test_llm_faults_end_the_turn_with_service_unavailable(
    tutor_factory: Callable[..., Tutor], reply: Reply
) -> None:
    tutor = tutor_factory(openai_timeout_seconds=1.5)
    tutor.llm.script(reply, Reply.from_text("Baik lagi."))
    ws, _ = await connect(tutor.url, user_id="llm-faults", course_id="course_tik_01")
    async with ws:
        failed = await ask(ws, DEFINITION)
        assert failed.final["type"] == "error"
        assert failed.final["error_code"] == "SERVICE_UNAVAILABLE"
        again = await ask(ws, "Sebutkan lima tahap perencanaan infrastruktur TI")
    assert again.final["type"] == "chat_response" and again.final["response"] == "Baik lagi."


async def test_embedding_endpoint_down_is_service_unavailable(
    tutor_factory: Callable[..., Tutor],
) -> None:
    """Remote embeddings (an OpenAI-compatible endpoint of its own) that go away under a running
    server: the question gets SERVICE_UNAVAILABLE and the socket stays usable."""
    endpoint = ScriptedOpenAI()
    with endpoint:
        tutor = tutor_factory(
            embedding_provider="openai", openai_api_key="sk-test",
            openai_api_base=endpoint.base_url, openai_timeout_seconds=2,
        )  # fmt: skip
    ws, _ = await connect(tutor.url, user_id="embed-down")  # all courses: no course lookup
    async with ws:
        turn = await ask(ws, DEFINITION)
        assert turn.final["error_code"] == "SERVICE_UNAVAILABLE"
        await ws.send('{"type": "ping"}')
        assert (await recv(ws))["type"] == "pong"


def _cache_index(prefix: str, client: redis.Redis) -> str | None:
    names = [n.decode() for n in client.execute_command("FT._LIST")]
    return next((n for n in names if n.startswith(f"{prefix}-answers")), None)


async def test_a_dropped_cache_index_fails_open_and_is_recreated(tutor: Tutor) -> None:
    tutor.llm.default = Reply.from_text("Jawaban dari materi.")
    client = redis.Redis.from_url(REDIS_URL)
    prefix = tutor.settings.key_prefix
    try:
        ws, _ = await connect(tutor.url, user_id="cache-gone", course_id="course_tik_01")
        async with ws:
            first = await ask(ws, DEFINITION)
            assert first.final["cached"] is False
            name = _cache_index(prefix, client)
            assert name is not None
            client.execute_command("FT.DROPINDEX", name)  # the entries stay, the index is gone
            answered = await ask(ws, DEFINITION)
            assert answered.final["type"] == "chat_response" and answered.final["cached"] is False
            assert _cache_index(prefix, client) == name  # created again
            for _ in range(50):  # RediSearch re-indexes the stored entries in the background
                again = await ask(ws, DEFINITION)
                if again.final["cached"]:
                    break
                await asyncio.sleep(0.1)
            assert again.final["cached"] is True
    finally:
        client.close()


async def test_a_search_the_chunk_index_refuses_is_service_unavailable(
    tutor_factory: Callable[..., Tutor], prefix: str
) -> None:
    """RedisVL wraps every failed search in RedisSearchError (not a RedisError): here the chunk
    index was replaced by one without the vector field, so the KNN query fails in RediSearch."""
    tutor = tutor_factory(key_prefix=prefix)
    schema = chunk_schema(tutor.settings)
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.execute_command("FT.DROPINDEX", schema.index.name)
        client.execute_command(
            "FT.CREATE", schema.index.name, "ON", "HASH", "PREFIX", "1", schema.index.prefix,
            "SCHEMA", "text", "TEXT",
        )  # fmt: skip
    finally:
        client.close()
    ws, _ = await connect(tutor.url, user_id="index-replaced")
    async with ws:
        turn = await ask(ws, DEFINITION)
        assert turn.final.get("error_code") == "SERVICE_UNAVAILABLE", turn.final
        await ws.send('{"type": "ping"}')
        assert (await recv(ws))["type"] == "pong"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def private_stack(tmp_path: Path) -> Iterator[tuple[redis_stack.StackPaths, str]]:
    """A Redis Stack of this test's own (the shared one on 6380 is never stopped)."""
    paths = redis_stack.StackPaths(
        cache_dir=Path.home() / ".cache" / "course-tutor",
        data_dir=tmp_path / "stack",
        port=_free_port(),
    )
    redis_stack.start(paths)
    try:
        yield paths, f"redis://127.0.0.1:{paths.port}/0"
    finally:
        redis_stack.stop(paths)


async def test_redis_stopped_under_a_running_server_then_back(
    make_settings: SettingsFactory,
    scripted_llm: ScriptedOpenAI,
    private_stack: tuple[redis_stack.StackPaths, str],
    tmp_path: Path,
) -> None:
    from app.main import create_app

    paths, url = private_stack
    settings = make_settings(
        redis_knowledge_url=url, redis_cache_url=url,  # default REDIS_TIMEOUT_SECONDS
        openai_api_base=scripted_llm.base_url, openai_model_comprehensive="gpt-4o-mini",
    )  # fmt: skip
    folder = tmp_path / "net"
    make_pdf(folder / "router.pdf", ROUTER_PAGES, header="net | Dosen")
    ingest_paths(settings, "net", [folder])
    assert redis.Redis.from_url(url).exists(KnowledgeKeys.from_settings(settings).version("net"))
    scripted_llm.default = Reply.from_text("Router meneruskan paket.")
    with live_server(create_app(settings)) as base:
        ws, _ = await connect(base, user_id="outage", course_id="net")
        async with ws:
            assert (await ask(ws, "Apa fungsi router?")).final["type"] == "chat_response"
            redis_stack.stop(paths)
            started = time.monotonic()
            down = await ask(ws, "Apa fungsi switch?")
            took = time.monotonic() - started
            assert down.final["error_code"] == "SERVICE_UNAVAILABLE", down.frames
            assert took <= 1.5, f"SERVICE_UNAVAILABLE took {took:.2f} s"
            await ws.send('{"type": "ping"}')  # the socket stays open
            assert (await recv(ws))["type"] == "pong"
            redis_stack.start(paths)
            back = await ask(ws, "Apa fungsi router dalam jaringan?")
            assert back.final["type"] == "chat_response", back.frames
            assert json.dumps(back.final["sources"]).count("router.pdf") >= 1
