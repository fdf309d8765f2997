"""The LLM streaming transport against a real OpenAI-compatible HTTP server (the scripted one):
deltas, usage, no-usage counting, and every way a stream can fail mapping to one error."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index_instrumentation.base import BaseEvent
from llama_index_instrumentation.event_handlers import BaseEventHandler
from pydantic import Field
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.core.config import Settings
from app.protocol.errors import ErrorCode
from app.services.llm import (
    CALLBACK_DISPATCHER,
    CompatibleOpenAI,
    Delta,
    LlamaCppPromptCounter,
    LLMUnavailableError,
    Usage,
    build_llm,
    complete,
    estimate_tokens,
    observed,
    stream_chat,
)
from tests.support.live_server import live_server
from tests.support.scripted_openai import Reply, ScriptedOpenAI

pytestmark = pytest.mark.integration

MESSAGES = [
    ChatMessage(role=MessageRole.SYSTEM, content="Answer briefly."),
    ChatMessage(role=MessageRole.USER, content="What does a router do?"),
]


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=2.0)) as client:
        yield client


def llm_for(
    server: ScriptedOpenAI, http: httpx.AsyncClient, **overrides: object
) -> CompatibleOpenAI:
    values: dict[str, object] = {"openai_api_base": server.base_url, "openai_api_key": "sk-test"}
    values.update(overrides)
    settings = Settings(_env_file=None, **values)  # type: ignore[arg-type]
    return build_llm(settings, "gpt-4o-mini", http)


async def collect(
    llm: CompatibleOpenAI, timeout: float = 5.0, counter: LlamaCppPromptCounter | None = None
) -> tuple[list[str], Usage]:
    deltas: list[str] = []
    usage = None
    async for event in stream_chat(llm, MESSAGES, timeout, timeout, counter):
        if isinstance(event, Delta):
            deltas.append(event.text)
        else:
            usage = event
    assert usage is not None
    return deltas, usage


async def test_deltas_and_streamed_usage_arrive_through_llamaindex_astream_chat(
    scripted_llm: ScriptedOpenAI, http: httpx.AsyncClient
) -> None:
    scripted_llm.script(
        Reply(tokens=["Rou", "ters", " forward"], prompt_tokens=40, completion_tokens=3)
    )
    llm = llm_for(scripted_llm, http)
    deltas, usage = await collect(llm)
    assert deltas == ["Rou", "ters", " forward"]
    assert usage == Usage(40, 3, counted=False)
    request = scripted_llm.chat_requests[-1]
    assert request["stream"] is True and request["stream_options"] == {"include_usage": True}
    assert request["model"] == "gpt-4o-mini" and request["messages"][1]["role"] == "user"
    assert request["max_tokens"] == 1000 and request["temperature"] == 0.7
    # the LlamaIndex interface itself: accumulated message text and a delta per response
    scripted_llm.script(Reply(tokens=["a", "b"]))
    seen = [(r.delta, r.message.content) async for r in await llm.astream_chat(MESSAGES)]
    assert seen[:2] == [("a", "a"), ("b", "ab")]


async def test_the_api_key_travels_as_a_bearer_token(
    scripted_llm: ScriptedOpenAI, http: httpx.AsyncClient
) -> None:
    received: list[str] = []

    async def capture(request: httpx.Request) -> None:
        received.append(request.headers.get("authorization", ""))

    http.event_hooks["request"].append(capture)
    await collect(llm_for(scripted_llm, http, openai_api_key="sk-abc"))
    assert received == ["Bearer sk-abc"]


async def test_a_server_without_usage_is_counted(
    scripted_llm: ScriptedOpenAI, http: httpx.AsyncClient
) -> None:
    scripted_llm.script(Reply(tokens=["x", "y", "z"], report_usage=False))
    deltas, usage = await collect(llm_for(scripted_llm, http))
    assert deltas == ["x", "y", "z"]
    assert usage == Usage(estimate_tokens(MESSAGES), 3, counted=True)


@pytest.fixture
def odd_tokenizer() -> Iterator[str]:
    """A tokenizer endpoint that answers 200 with a body of another shape (no ``count``)."""

    async def count(request: Request) -> JSONResponse:
        return JSONResponse({"tokens": [1, 2, 3]})

    app = Starlette(routes=[Route("/extras/tokenize/count", count, methods=["POST"])])
    with live_server(app) as url:
        yield url


async def test_an_odd_tokenizer_answer_after_a_whole_answer_falls_back_to_the_estimate(
    scripted_llm: ScriptedOpenAI, http: httpx.AsyncClient, odd_tokenizer: str
) -> None:
    """The answer has already reached the student: counting must not turn it into an error."""
    scripted_llm.script(Reply(tokens=["a", "b"], report_usage=False))
    counter = LlamaCppPromptCounter(http, odd_tokenizer, 5.0)
    deltas, usage = await collect(llm_for(scripted_llm, http), counter=counter)
    assert deltas == ["a", "b"] and usage == Usage(estimate_tokens(MESSAGES), 2, counted=True)


@pytest.mark.parametrize(
    "reply",
    [
        Reply(status=500),
        Reply(status=429),
        Reply(tokens=["a", "b", "c"], fail_after=1),  # connection dropped mid-stream
        Reply(tokens=["a"], garbage="{not json"),
        Reply(tokens=["a"], garbage='{"error": {"message": "overloaded"}}'),
        Reply(tokens=["a"], garbage='{"choices": [{"delta": {"content": 7}}]}'),
        Reply(hang=True),  # no first token within the timeout
    ],
    ids=[
        "http-500",
        "http-429",
        "broken-stream",
        "malformed-json",
        "error-event",
        "bad-delta",
        "timeout",
    ],
)
async def test_every_stream_failure_is_one_service_unavailable_error(
    scripted_llm: ScriptedOpenAI, http: httpx.AsyncClient, reply: Reply
) -> None:
    scripted_llm.script(reply)
    with pytest.raises(LLMUnavailableError) as caught:
        await collect(llm_for(scripted_llm, http), timeout=1.0)
    assert caught.value.code is ErrorCode.SERVICE_UNAVAILABLE


async def test_an_abandoned_stream_releases_its_connection(
    scripted_llm: ScriptedOpenAI, http: httpx.AsyncClient
) -> None:
    scripted_llm.script(Reply(tokens=[f" w{i}" for i in range(200)], delay_s=0.02))
    stream = stream_chat(llm_for(scripted_llm, http), MESSAGES, 5.0, 5.0)
    assert isinstance(await anext(stream), Delta)
    await stream.aclose()
    for _ in range(100):
        if scripted_llm.cancelled == 1:
            break
        await asyncio.sleep(0.05)
    assert scripted_llm.cancelled == 1


async def test_complete_joins_the_stream(
    scripted_llm: ScriptedOpenAI, http: httpx.AsyncClient
) -> None:
    scripted_llm.script(Reply.from_text("Two words.", prompt_tokens=9))
    text, usage = await complete(llm_for(scripted_llm, http), MESSAGES, 5.0)
    assert text == "Two words." and usage.input_tokens == 9 and usage.output_tokens == 2


async def test_llamaindex_instrumentation_sees_every_token_when_a_handler_listens(
    scripted_llm: ScriptedOpenAI, http: httpx.AsyncClient
) -> None:
    """Per-token events are skipped only while nobody listens; a registered handler gets them."""

    class Recorder(BaseEventHandler):
        events: list[str] = Field(default_factory=list)

        @classmethod
        def class_name(cls) -> str:
            return "Recorder"

        def handle(self, event: BaseEvent, **kwargs: object) -> None:
            self.events.append(type(event).__name__)

    llm = llm_for(scripted_llm, http)
    assert not observed(llm)
    handler = Recorder()
    CALLBACK_DISPATCHER.add_event_handler(handler)
    try:
        assert observed(llm)
        scripted_llm.script(Reply(tokens=["a", "b", "c"], prompt_tokens=5))
        deltas, usage = await collect(llm)
    finally:
        CALLBACK_DISPATCHER.event_handlers.remove(handler)
    assert deltas == ["a", "b", "c"] and usage.input_tokens == 5
    assert handler.events[0] == "LLMChatStartEvent" and handler.events[-1] == "LLMChatEndEvent"
    assert handler.events.count("LLMChatInProgressEvent") == 4  # three deltas + the usage event
