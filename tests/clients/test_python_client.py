"""The Python client and `tutor-chat` against the real server (scripted LLM)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tutor_client import (
    Backoff,
    ChatChunk,
    ChatResponse,
    ChatStarted,
    ConnectionRefusedByServerError,
    ServerUnreachableError,
    TutorClient,
)

from tests.conftest import Tutor
from tests.support.auth import SECRET, mint
from tests.support.scripted_openai import Reply, ScriptedOpenAI
from tests.support.tutor import serve_tutor

pytestmark = pytest.mark.integration
ANSWER = "Manajemen infrastruktur TI adalah kegiatan merencanakan dan memelihara sumber daya TI."
CLI = [
    str(Path(sys.executable).with_name("tutor-chat"))
]  # the console script make install puts there


async def test_ask_yields_typed_frames(tutor: Tutor) -> None:
    tutor.llm.script(Reply.from_text(ANSWER, prompt_tokens=100, completion_tokens=15))
    async with TutorClient(tutor.url, user_id="py-student", course_id="course_tik_01") as client:
        assert client.connection is not None and client.connection.course_id == "course_tik_01"
        events = [
            e async for e in client.ask("Apa itu manajemen infrastruktur TI?", chatroom_id="py-r1")
        ]
        pong = await client.ping()
    assert isinstance(events[0], ChatStarted) and isinstance(events[-1], ChatResponse)
    chunks = [e for e in events if isinstance(e, ChatChunk)]
    assert [c.chunk_index for c in chunks] == list(range(1, len(chunks) + 1))
    final = events[-1]
    assert "".join(c.chunk for c in chunks) == final.response == ANSWER
    assert final.sources and final.sources[0].metadata.page_label
    assert final.token_usage.total_tokens == 115 and final.metadata.chatroom_id == "py-r1"
    assert pong.type == "pong"


async def test_cancel_then_ask_again_and_reconnect_after_idle_close(
    tutor_factory: object,
) -> None:
    tutor: Tutor = tutor_factory(ws_idle_timeout_seconds=1.5, stream_flush_interval_ms=0)  # type: ignore[operator]
    tutor.llm.script(
        Reply.from_text(
            "satu dua tiga empat lima enam tujuh delapan sembilan sepuluh " * 5, delay_s=0.1
        ),
        Reply.from_text(ANSWER),
        Reply.from_text(ANSWER),
    )
    client = TutorClient(
        tutor.url, user_id="py-cancel", course_id="course_tik_01", ping_interval=60
    )
    try:
        seen: list[object] = []
        async for event in client.ask("Apa itu manajemen infrastruktur TI?"):
            seen.append(event)
            if isinstance(event, ChatChunk):
                await client.cancel()
        final = seen[-1]  # the server's cancel: the answer ends with its chat_response
        chunks = [e for e in seen if isinstance(e, ChatChunk)]
        assert isinstance(final, ChatResponse) and final.metadata.cancelled is True
        assert final.chunks_count == len(chunks)
        assert final.response == "".join(c.chunk for c in chunks)
        assert len(final.response.split()) < 50  # stopped before the end
        again = [e async for e in client.ask("Apa saja komponen infrastruktur TI?")]
        assert isinstance(again[-1], ChatResponse) and again[-1].response == ANSWER
        # the server closes an idle socket; the next question reconnects by itself
        await asyncio.sleep(2.5)
        assert client.connection is None
        third = [e async for e in client.ask("Apa itu pusat data?")]
        assert isinstance(third[-1], ChatResponse)
    finally:
        await client.close()


async def test_an_answer_survives_a_dropped_connection(tutor: Tutor) -> None:
    words = " ".join(f"kata{i}" for i in range(80))
    tutor.llm.script(Reply.from_text(words, delay_s=0.03))
    client = TutorClient(tutor.url, user_id="py-resume", course_id="course_tik_01")
    try:
        assert await client.supports("resume") and await client.supports("cancel")
        events: list[object] = []
        async for event in client.ask("Apa itu manajemen infrastruktur TI?"):
            events.append(event)
            if isinstance(event, ChatChunk) and event.chunk_index == 2:
                assert client._ws is not None
                client._ws.transport.abort()  # the network goes away mid-answer
    finally:
        await client.close()
    final = events[-1]
    chunks = [e for e in events if isinstance(e, ChatChunk)]
    assert isinstance(final, ChatResponse) and final.metadata.cancelled is False
    assert [c.chunk_index for c in chunks] == list(range(1, final.chunks_count + 1))
    assert "".join(c.chunk for c in chunks).strip() == final.response == words
    assert len([e for e in events if isinstance(e, ChatStarted)]) == 1


async def test_refusals_and_unreachable_servers(tutor: Tutor) -> None:
    client = TutorClient(tutor.url, user_id="py-x", course_id="no_such_course")
    with pytest.raises(ConnectionRefusedByServerError) as refused:
        await client.connect()
    assert refused.value.code == "UNKNOWN_COURSE"
    dead = TutorClient("http://127.0.0.1:9", user_id="u", backoff=Backoff(initial=0.01, attempts=2))
    with pytest.raises(ServerUnreachableError, match=r"127\.0\.0\.1:9"):
        await dead.connect()


def test_backoff_grows_and_is_capped() -> None:
    policy = Backoff(initial=1.0, factor=2.0, max_delay=5.0)
    for attempt, ceiling in ((1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (9, 5.0)):
        for _ in range(20):
            assert ceiling / 2 <= policy.delay(attempt) <= ceiling


def _cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def test_cli_ask_status_and_json(tutor: Tutor) -> None:
    tutor.llm.script(Reply.from_text(ANSWER), Reply.from_text(ANSWER))
    done = _cli(
        "ask",
        "Apa itu manajemen infrastruktur TI?",
        "--user",
        "cli-student",
        "--course",
        "course_tik_01",
        "--room",
        "cli-room",
        "--url",
        tutor.url,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(ANSWER)
    assert "Sources:" in done.stdout and ".pdf, page " in done.stdout
    assert "Tokens:" in done.stdout and "cost $" in done.stdout
    as_json = _cli(
        "--json",
        "ask",
        "Apa saja komponen infrastruktur TI?",
        "--user",
        "cli-student",
        "--course",
        "course_tik_01",
        "--url",
        tutor.url,
    )
    assert as_json.returncode == 0, as_json.stderr
    frames = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert frames[0]["type"] == "chat_started" and frames[-1]["type"] == "chat_response"
    status = _cli("status", "--url", tutor.url)
    assert (
        status.returncode == 0
        and "connections:" in status.stdout
        and "today: 2 questions" in status.stdout
    )


def test_cli_errors_are_clear(tutor: Tutor) -> None:
    empty = _cli("ask", "   ", "--user", "u", "--url", tutor.url)
    assert empty.returncode == 2 and "the question is empty" in empty.stderr
    unreachable = _cli("ask", "Apa itu VLAN?", "--user", "u", "--url", "http://127.0.0.1:9")
    assert unreachable.returncode == 3 and "http://127.0.0.1:9" in unreachable.stderr
    unknown = _cli("ask", "Apa itu VLAN?", "--user", "u", "--course", "nope", "--url", tutor.url)
    assert unknown.returncode == 4 and "nope" in unknown.stderr


@pytest.fixture(scope="module")
def token_server(
    sample_index: str, scripted_server: ScriptedOpenAI, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The server with AUTH_MODE=token: only signed tokens get in."""
    with serve_tutor(
        sample_index,
        scripted_server,
        tmp_path_factory.mktemp("client-token"),
        auth_mode="token",
        auth_jwt_secret=SECRET,
    ) as (url, _settings):
        yield url


async def test_token_on_the_handshake_and_a_refused_token(
    token_server: str, scripted_server: ScriptedOpenAI
) -> None:
    scripted_server.reset()
    scripted_server.script(Reply.from_text(ANSWER))
    token = mint("py-token-user", ["course_tik_01"])
    async with TutorClient(token_server, course_id="course_tik_01", token=token) as client:
        assert client.connection is not None and client.connection.user_id == "py-token-user"
        events = [e async for e in client.ask("Apa itu manajemen infrastruktur TI?")]
    assert isinstance(events[-1], ChatResponse) and events[-1].response == ANSWER
    forged = mint("py-token-user", ["course_tik_01"], secret="not-the-server-secret-" + "y" * 30)
    proc = await asyncio.create_subprocess_exec(
        *CLI,
        "ask",
        "Apa itu VLAN?",
        "--token",
        forged,
        "--course",
        "course_tik_01",
        "--url",
        token_server,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 4, stderr.decode()
    assert f"refused by {token_server}" in stderr.decode()
