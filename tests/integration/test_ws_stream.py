"""`/ws/stream` end to end: real uvicorn, real WebSocket client, real Redis Stack, the sample course,
and an OpenAI-compatible HTTP server that streams scripted tokens and usage."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from app.protocol.messages import SERVER_MESSAGE
from tests.conftest import Tutor
from tests.support.client import ask, connect, recv
from tests.support.scripted_openai import Reply

pytestmark = pytest.mark.integration

DEFINITION = "Apa itu manajemen infrastruktur TI?"


async def test_connection_frame_carries_the_live_config(tutor: Tutor) -> None:
    ws, hello = await connect(tutor.url, user_id="student1", course_id="course_tik_01")
    async with ws:
        SERVER_MESSAGE.validate_python(hello)
        assert hello["type"] == "connection" and hello["status"] == "connected"
        assert hello["user_id"] == "student1" and hello["course_id"] == "course_tik_01"
        assert isinstance(hello["timestamp"], float)
        config = hello["config"]
        s = tutor.settings
        assert config["model_comprehensive"] == "gpt-4o-mini"
        assert config["model_personalized"] == "gpt-4o-nano"
        assert config["rag_threshold"] == s.chunk_cutoff
        assert config["rag_top_k"] == s.rag_top_k
        assert config["openai_temperature"] == s.openai_temperature
        assert config["openai_max_tokens"] == s.openai_max_tokens
        assert config["streaming"] is True
        assert config["cache_enabled"] is True and config["personalization_enabled"] is True


async def test_one_turn_streams_phrases_and_ends_with_every_documented_field(tutor: Tutor) -> None:
    answer = "Manajemen infrastruktur TI adalah kegiatan merencanakan dan memelihara sumber daya TI (hal. 1)."
    tutor.llm.script(Reply.from_text(answer, prompt_tokens=321, completion_tokens=17))
    ws, _ = await connect(tutor.url, user_id="student2", course_id="course_tik_01")
    async with ws:
        turn = await ask(ws, f"  {DEFINITION}  ", use_personalization=False, chatroom_id=None)
    for frame in turn.frames:
        SERVER_MESSAGE.validate_python(frame)
    assert turn.types[0] == "chat_started" and turn.types[-1] == "chat_response"
    started = turn.frames[0]
    assert started["query"] == DEFINITION
    assert started["metadata"] == {
        "course_id": "course_tik_01",
        "chatroom_id": None,
        "use_personalization": False,
        "service": "course_tutor",
        "cache_check": "initiated",
        "turn_id": turn.final["metadata"]["turn_id"],  # added
    }
    assert [c["chunk_index"] for c in turn.chunks] == list(range(1, len(turn.chunks) + 1))
    final = turn.final
    assert "".join(c["chunk"] for c in turn.chunks) == final["response"] == answer
    assert final["chunks_count"] == len(turn.chunks)
    assert final["done"] is True and final["cached"] is False and final["response_source"] == "rag"
    assert (
        final["token_usage"]["input_tokens"] == 321 and final["token_usage"]["output_tokens"] == 17
    )
    assert final["token_usage"]["total_tokens"] == 338
    pricing = final["token_usage"]["model_pricing"]
    assert pricing["input_cost_per_1k"] == 0.00015 and pricing["output_cost_per_1k"] == 0.0006
    assert pricing["total_cost"] == pytest.approx(321 / 1000 * 0.00015 + 17 / 1000 * 0.0006)
    assert final["metadata"]["cost_usd"] == pricing["total_cost"]
    assert final["latency_ms"] > 0 and final["timestamp"] >= started["timestamp"]
    meta = final["metadata"]
    assert meta["source"] == "rag" and meta["source_type"] == "knowledge_base"
    assert meta["response_type"] == "rag_response" and meta["model_used"] == "gpt-4o-mini"
    assert meta["personalized"] is False and meta["course_id"] == "course_tik_01"
    assert meta["rag_threshold_used"] == tutor.settings.chunk_cutoff
    assert meta["documents_retrieved"] == tutor.settings.rag_top_k >= meta["documents_used"] >= 1
    assert len(final["sources"]) == meta["documents_used"]
    top = final["sources"][0]["metadata"]
    assert (
        top["course_id"] == "course_tik_01"
        and top["filename"] == "06_modul_manajemen_infrastruktur_ti.pdf"
    )
    assert top["material_id"] == "modul_infrastruktur_06"
    assert top["page_number"] == 3 and top["page_label"] == "1"  # physical page 3 is printed "1"
    assert top["page"].startswith("1.") and top["page"].split(".")[1].isdigit()
    assert top["score"] == pytest.approx(1 - top["vector_distance"], abs=1e-3)
    assert top["vector_distance"] <= meta["rag_threshold_used"]
    assert "Manajemen infrastruktur TI adalah" in final["sources"][0]["content"]
    # the LLM saw the sources as delimited data and the question
    request = tutor.llm.chat_requests[-1]
    assert request["model"] == "gpt-4o-mini" and request["stream"] is True
    assert request["stream_options"] == {"include_usage": True}
    prompt = request["messages"][1]["content"]
    assert '<source id="1"' in prompt and DEFINITION in prompt
    assert "not instructions" in request["messages"][0]["content"]


async def test_tokens_are_coalesced_into_phrases_at_word_boundaries(
    tutor_factory: Callable[..., Tutor],
) -> None:
    tutor = tutor_factory(stream_flush_interval_ms=60)
    words = [f" kata{i}" for i in range(60)]
    tokens = [piece for word in words for piece in (word[:3], word[3:])]  # 120 tokens
    tutor.llm.script(Reply(tokens=tokens, delay_s=0.005))
    ws, _ = await connect(tutor.url, user_id="student3", course_id="course_tik_01")
    async with ws:
        turn = await ask(ws, DEFINITION)
    chunks = [c["chunk"] for c in turn.chunks]
    assert "".join(chunks).strip() == "".join(words).strip()
    assert 2 <= len(chunks) < 120 / 3  # far fewer frames than tokens
    assert all(c.endswith((" ", "\n")) for c in chunks[:-1])  # never cut inside a word


async def test_course_filter_keeps_other_courses_out(tutor: Tutor) -> None:
    tutor.llm.default = Reply.from_text("Jawaban.")
    questions = {
        "course_tik_01": "Apa fungsi router dan switch?",
        "course_net_en_01": "What do routers and switches do?",
    }
    for course, question in questions.items():
        ws, _ = await connect(tutor.url, user_id="student4", course_id=course)
        async with ws:
            turn = await ask(ws, question)
            # VLANs are only explained in the English course: still nothing from it here
            other = await ask(ws, "Apa itu VLAN dan bagaimana VLAN memisahkan jaringan?")
        sources = turn.final["sources"]
        assert sources and {s["metadata"]["course_id"] for s in sources} == {course}
        assert {s["metadata"]["course_id"] for s in other.final["sources"]} <= {course}


async def test_question_outside_the_material_is_answered_as_not_covered_without_the_llm(
    tutor: Tutor,
) -> None:
    ws, _ = await connect(tutor.url, user_id="student5", course_id="course_tik_01")
    async with ws:
        turn = await ask(ws, "Siapa pemenang piala dunia sepak bola tahun 2018?")
    final = turn.final
    assert final["response_source"] == "not_covered" and final["sources"] == []
    assert (
        final["metadata"]["documents_used"] == 0
        and final["metadata"]["response_type"] == "not_covered"
    )
    assert "tidak membahas" in final["response"]
    assert final["token_usage"]["total_tokens"] == 0 and tutor.llm.chat_requests == []
    assert turn.chunks and "".join(c["chunk"] for c in turn.chunks) == final["response"]


async def test_answer_language_follows_the_question(tutor: Tutor) -> None:
    ws, _ = await connect(tutor.url, user_id="student6", course_id="course_net_en_01")
    async with ws:
        english = await ask(ws, "Who won the football world cup in 2018?")
        await ask(ws, "What is a VLAN?")
    assert "does not cover" in english.final["response"]
    system = tutor.llm.chat_requests[-1]["messages"][0]["content"]
    assert "Answer in English" in system


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ('{"type": "chat_request", "query": "   "}', "EMPTY_QUERY"),
        ('{"type": "chat_request"}', "EMPTY_QUERY"),
        ('{"type": "shout", "query": "hi"}', "INVALID_MESSAGE_TYPE"),
        ('{"query": "hi"}', "INVALID_MESSAGE_TYPE"),
        ("[1, 2]", "INVALID_MESSAGE_TYPE"),
        ("{not json", "JSON_PARSE_ERROR"),
        (json.dumps({"type": "chat_request", "query": "x" * 1001}), "QUERY_TOO_LONG"),
        ('{"type": "chat_request", "query": "hi", "use_personalization": [1]}', "INVALID_REQUEST"),
        ('{"type": "chat_request", "query": "hi", "chatroom_id": 5}', "INVALID_REQUEST"),
        (json.dumps({"type": "ping", "pad": "x" * 20000}), "MESSAGE_TOO_LARGE"),
    ],
)
async def test_bad_frames_get_a_recoverable_error_and_the_connection_stays(
    tutor: Tutor, frame: str, code: str
) -> None:
    ws, _ = await connect(tutor.url, user_id="student7")
    async with ws:
        await ws.send(frame)
        error = await recv(ws)
        SERVER_MESSAGE.validate_python(error)
        assert error["type"] == "error" and error["error_code"] == code
        assert error["recoverable"] is True and error["suggestion"] and error["error"]
        await ws.send('{"type": "ping"}')
        assert (await recv(ws))["type"] == "pong"


async def test_binary_frames_are_refused_politely(tutor: Tutor) -> None:
    ws, _ = await connect(tutor.url, user_id="student8")
    async with ws:
        await ws.send(b"\x00\x01")
        assert (await recv(ws))["error_code"] == "BINARY_NOT_SUPPORTED"
        await ws.send('{"type": "ping"}')
        assert (await recv(ws))["type"] == "pong"


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"course_id": "course_tik_01"}, "MISSING_USER_ID"),
        ({"user_id": "  "}, "MISSING_USER_ID"),
        ({"user_id": "bad user!"}, "INVALID_PARAMETER"),
        ({"user_id": "u1", "course_id": "no_such_course"}, "UNKNOWN_COURSE"),
    ],
)
async def test_bad_connection_parameters_get_an_error_frame_then_close_1008(
    tutor: Tutor, params: dict[str, str], code: str
) -> None:
    ws, error = await connect(tutor.url, **params)
    assert (
        error["type"] == "error" and error["error_code"] == code and error["recoverable"] is False
    )
    with pytest.raises(ConnectionClosed) as closed:
        await recv(ws)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def test_browser_style_null_course_means_all_courses(tutor: Tutor) -> None:
    ws, hello = await connect(tutor.url, user_id="student9", course_id="null")
    async with ws:
        assert hello["course_id"] is None
        tutor.llm.default = Reply.from_text("Jawaban.")
        turn = await ask(ws, "What is a VLAN?")
    assert {s["metadata"]["course_id"] for s in turn.final["sources"]} <= {
        "course_tik_01",
        "course_net_en_01",
    }


async def test_llm_failure_is_service_unavailable_and_the_next_question_works(tutor: Tutor) -> None:
    tutor.llm.script(Reply(status=500), Reply.from_text("Baik sekarang."))
    ws, _ = await connect(tutor.url, user_id="student10", course_id="course_tik_01")
    async with ws:
        failed = await ask(ws, DEFINITION)
        assert failed.types == ["chat_started", "error"]
        error = failed.final
        assert error["error_code"] == "SERVICE_UNAVAILABLE" and error["recoverable"] is False
        assert "500" not in error["error"] and "Traceback" not in error["error"]
        ok = await ask(ws, "Sebutkan lima tahap perencanaan infrastruktur TI")
        assert ok.final["type"] == "chat_response" and ok.final["response"] == "Baik sekarang."


async def test_unreachable_llm_is_service_unavailable(tutor_factory: Callable[..., Tutor]) -> None:
    tutor = tutor_factory(openai_api_base="http://127.0.0.1:9/v1", openai_timeout_seconds=5)
    ws, _ = await connect(tutor.url, user_id="student11", course_id="course_tik_01")
    async with ws:
        turn = await ask(ws, DEFINITION)
    assert turn.final["error_code"] == "SERVICE_UNAVAILABLE"


async def test_rate_limit_is_per_user(tutor_factory: Callable[..., Tutor]) -> None:
    tutor = tutor_factory(rate_limit_requests=2, rate_limit_window_seconds=60)
    tutor.llm.default = Reply.from_text("Ok.")
    ws, _ = await connect(tutor.url, user_id="student12", course_id="course_tik_01")
    async with ws:
        assert (await ask(ws, DEFINITION)).final["type"] == "chat_response"
        assert (await ask(ws, DEFINITION)).final["type"] == "chat_response"
        await ws.send(json.dumps({"type": "chat_request", "query": DEFINITION}))
        limited = await recv(ws)
        assert limited["error_code"] == "RATE_LIMIT_EXCEEDED" and limited["recoverable"] is False
    other, _ = await connect(tutor.url, user_id="student13", course_id="course_tik_01")
    async with other:
        assert (await ask(other, DEFINITION)).final["type"] == "chat_response"


async def test_idle_connection_times_out(tutor_factory: Callable[..., Tutor]) -> None:
    tutor = tutor_factory(ws_idle_timeout_seconds=1.0)
    ws, _ = await connect(tutor.url, user_id="student14")
    error = await recv(ws, timeout=10)
    assert error["error_code"] == "CONNECTION_TIMEOUT" and error["recoverable"] is False
    with pytest.raises(ConnectionClosed) as closed:
        await recv(ws, timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000


async def test_ping_is_answered_while_an_answer_streams(tutor: Tutor) -> None:
    tutor.llm.script(Reply(tokens=[f" kata{i}" for i in range(40)], delay_s=0.05))
    ws, _ = await connect(tutor.url, user_id="student15", course_id="course_tik_01")
    async with ws:
        await ws.send(json.dumps({"type": "chat_request", "query": DEFINITION}))
        frames = [await recv(ws)]
        while frames[-1]["type"] != "chat_chunk":
            frames.append(await recv(ws))
        await ws.send('{"type": "ping"}')
        await ws.send(json.dumps({"type": "chat_request", "query": "Pertanyaan kedua?"}))
        while frames[-1]["type"] != "chat_response":
            frames.append(await recv(ws))
    types = [f["type"] for f in frames]
    assert types.index("pong") < types.index("chat_response")
    busy = [f for f in frames if f["type"] == "error"]
    assert [e["error_code"] for e in busy] == ["CHAT_IN_PROGRESS"] and busy[0][
        "recoverable"
    ] is True
    assert types.index("error") < types.index("chat_response")
    assert len(tutor.llm.chat_requests) == 1  # the second question was refused, not queued


async def test_disconnect_cancels_the_llm_call_and_closes_1000(tutor: Tutor) -> None:
    tutor.llm.script(Reply(tokens=[f" kata{i}" for i in range(400)], delay_s=0.05))
    ws, _ = await connect(tutor.url, user_id="student16", course_id="course_tik_01")
    await ws.send(
        json.dumps({"type": "chat_request", "query": DEFINITION, "chatroom_id": "room-x"})
    )
    while (await recv(ws))["type"] != "chat_chunk":
        pass
    await ws.send('{"type": "disconnect"}')
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await recv(ws, timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
    await _eventually(lambda: tutor.llm.cancelled == 1)


async def test_status_reports_live_connections_and_real_stats(tutor: Tutor) -> None:
    tutor.llm.default = Reply.from_text("Ok.", prompt_tokens=10, completion_tokens=5)
    async with httpx.AsyncClient(base_url=tutor.url) as http:
        before = (await http.get("/ws/status")).json()
        ws, _ = await connect(tutor.url, user_id="status-user", course_id="course_tik_01")
        async with ws:
            await ask(ws, DEFINITION)
            await _eventually_async(lambda: _status_has(http, "status-user", before))
            status = (await http.get("/ws/status")).json()
    assert status["websocket_status"] == "active" and status["endpoint"] == "/ws/stream"
    assert status["active_connections"] >= 1 and "status-user" in status["connected_users"]
    assert status["message_types"] == ["chat_request", "ping", "disconnect"]
    assert status["response_types"] == [
        "connection",
        "chat_started",
        "chat_chunk",
        "chat_response",
        "error",
        "pong",
    ]
    assert set(status["supported_features"]) == {
        "streaming",
        "database_integration",
        "cache_integration",
        "token_tracking",
        "bidirectional",
        "personalization",
        "sources_metadata",
        "page_tracking",
        "cost_tracking",
    }
    stats = status["performance_stats"]
    assert stats["total_requests_today"] == before["performance_stats"]["total_requests_today"] + 1
    assert stats["avg_response_time_ms"] > 0 and stats["avg_tokens_per_response"] == 15.0
    assert status["server_time"].endswith("Z") and isinstance(status["uptime"], int)


async def _status_has(http: httpx.AsyncClient, user: str, before: dict[str, object]) -> bool:
    status = (await http.get("/ws/status")).json()
    stats = status["performance_stats"]
    return (
        user in status["connected_users"]
        and stats["total_requests_today"] > before["performance_stats"]["total_requests_today"]
    )  # type: ignore[index]


async def _eventually(check: Callable[[], bool], seconds: float = 10.0) -> None:
    async with asyncio.timeout(seconds):
        while not check():
            await asyncio.sleep(0.05)


async def _eventually_async(check: Callable[[], object], seconds: float = 10.0) -> None:
    async with asyncio.timeout(seconds):
        while not await check():  # type: ignore[misc]
            await asyncio.sleep(0.05)


async def test_server_without_streamed_usage_gets_counted_tokens(tutor: Tutor) -> None:
    tokens = ["Router", " meneruskan", " paket", " antar", " jaringan."]
    tutor.llm.script(Reply(tokens=tokens, report_usage=False))
    ws, _ = await connect(tutor.url, user_id="student17", course_id="course_tik_01")
    async with ws:
        turn = await ask(ws, DEFINITION)
    call = turn.final["token_usage"]["calls"][0]
    assert call["counted"] is True and call["output_tokens"] == len(tokens)
    assert call["input_tokens"] > 50  # estimated from the prompt text (~4 characters a token)


async def test_model_refusal_counts_as_not_covered_and_is_not_cached(tutor: Tutor) -> None:
    """Close-but-wrong pages pass the distance cut; the model's own judgement then decides."""
    tutor.llm.default = Reply.from_text("Informasi tidak tersedia.")
    ws, _ = await connect(tutor.url, user_id="student18", course_id="course_tik_01")
    async with ws:
        first = (await ask(ws, DEFINITION)).final
        second = (await ask(ws, DEFINITION)).final
    for final in (first, second):
        assert final["response_source"] == "not_covered" and final["sources"] == []
        assert final["metadata"]["documents_used"] == 0 and final["cached"] is False
    assert (
        final["metadata"]["model_used"] == "gpt-4o-mini"
        and final["token_usage"]["total_tokens"] > 0
    )


async def test_status_counts_connections_of_every_worker(
    tutor_factory: Callable[..., Tutor],
) -> None:
    """Two server processes' worth of apps on one Redis: each reports the other's connections."""
    first, second = tutor_factory(), tutor_factory()
    ws, _ = await connect(first.url, user_id="worker-a-user")
    async with ws, httpx.AsyncClient(base_url=second.url) as http:
        status = (await http.get("/ws/status")).json()
        assert "worker-a-user" in status["connected_users"] and status["active_connections"] >= 1
    await _eventually_async(lambda: _gone(second.url, "worker-a-user"))


async def _gone(url: str, user: str) -> bool:
    async with httpx.AsyncClient(base_url=url) as http:
        return user not in (await http.get("/ws/status")).json()["connected_users"]


async def test_debug_log_shows_routing_retrieval_and_usage_but_never_the_key(
    tutor_factory: Callable[..., Tutor], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    tutor = tutor_factory(log_level="DEBUG", openai_api_key="sk-secret-key-123")
    tutor.llm.script(Reply.from_text("Ok.", prompt_tokens=11, completion_tokens=2))
    ws, _ = await connect(tutor.url, user_id="logged", course_id="course_tik_01")
    async with ws:
        await ask(ws, DEFINITION)
    text = caplog.text
    assert "connected user=logged" in text and "<- chat_request" in text
    assert "retrieval course=course_tik_01 kept=" in text and "usage: 11 in, 2 out" in text
    assert "sk-secret-key-123" not in text
