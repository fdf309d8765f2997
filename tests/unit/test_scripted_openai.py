"""The scripted OpenAI server speaks OpenAI's HTTP protocol exactly enough for the real clients.

Real HTTP, real clients (``openai``, LlamaIndex): nothing here is mocked, so these tests
prove the server is a faithful stand-in before other tests rely on it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import openai
import pytest
from llama_index.core.llms import ChatMessage
from llama_index.embeddings.openai import OpenAIEmbedding
from llama_index.llms.openai import OpenAI as LlamaOpenAI
from openai.types import CompletionUsage
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionSystemMessageParam

from tests.support.scripted_openai import (
    Reply,
    ScriptedOpenAI,
    embedding_vector,
    running_scripted_openai,
)

MODEL = "gpt-4o-mini"
USER: list[ChatCompletionMessageParam] = [{"role": "user", "content": "What is a monad?"}]


@pytest.fixture
def scripted() -> Iterator[ScriptedOpenAI]:
    yield from running_scripted_openai()


def client(server: ScriptedOpenAI, timeout_s: float = 30.0) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=server.base_url, api_key="test", max_retries=0, timeout=timeout_s
    )


async def eventually(predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Poll until ``predicate()`` holds or the deadline passes (the caller asserts after)."""
    deadline = time.monotonic() + timeout_s
    while True:
        if predicate() or time.monotonic() > deadline:
            return
        await asyncio.sleep(0.01)


async def test_openai_client_streams_tokens_then_usage(scripted: ScriptedOpenAI) -> None:
    scripted.script(Reply(tokens=["A", " monad", " is"], prompt_tokens=11, completion_tokens=3))
    async with client(scripted) as api:
        stream = await api.chat.completions.create(
            model=MODEL, messages=USER, stream=True, stream_options={"include_usage": True}
        )
        chunks = [chunk async for chunk in stream]

    with_choices = [c for c in chunks if c.choices]
    assert [c.choices[0].delta.content for c in with_choices] == ["", "A", " monad", " is", None]
    assert [c.choices[0].delta.role for c in with_choices] == ["assistant", None, None, None, None]
    assert [c.choices[0].finish_reason for c in with_choices] == [None, None, None, None, "stop"]
    assert [c.usage for c in with_choices] == [None] * 5
    assert chunks[-1].choices == []
    assert chunks[-1].usage == CompletionUsage(
        prompt_tokens=11, completion_tokens=3, total_tokens=14
    )
    assert {(c.object, c.model, c.id) for c in chunks} == {
        ("chat.completion.chunk", MODEL, chunks[0].id)
    }


async def test_usage_chunk_only_when_asked_and_default_counts(scripted: ScriptedOpenAI) -> None:
    scripted.script(Reply(tokens=["x", "y"]), Reply(tokens=["x", "y"]))
    async with client(scripted) as api:
        stream = await api.chat.completions.create(model=MODEL, messages=USER, stream=True)
        chunks = [chunk async for chunk in stream]
        answer = await api.chat.completions.create(model=MODEL, messages=USER)

    assert len(chunks) == 4  # role, "x", "y", stop: no usage chunk
    assert all(c.choices and c.usage is None for c in chunks)
    assert answer.object == "chat.completion"
    assert answer.choices[0].message.content == "xy"
    assert answer.choices[0].finish_reason == "stop"
    # default usage: words in all message contents ("What is a monad?" -> 4), one per token
    assert answer.usage == CompletionUsage(prompt_tokens=4, completion_tokens=2, total_tokens=6)


async def test_llama_index_astream_chat_yields_deltas_and_usage(scripted: ScriptedOpenAI) -> None:
    scripted.script(Reply(tokens=["Func", "tor"], prompt_tokens=21, completion_tokens=2))
    async with httpx.AsyncClient() as http:
        llm = LlamaOpenAI(
            model=MODEL,
            api_base=scripted.base_url,
            api_key="test",
            max_retries=0,
            additional_kwargs={"stream_options": {"include_usage": True}},
            async_http_client=http,
        )
        gen = await llm.astream_chat([ChatMessage(role="user", content="Name a typeclass.")])
        responses = [response async for response in gen]

    # role chunk, 2 tokens, finish chunk, usage chunk: one ChatResponse each
    assert [r.delta for r in responses] == ["", "Func", "tor", "", ""]
    assert responses[-1].message.content == "Functor"
    assert responses[-1].additional_kwargs == {
        "prompt_tokens": 21,
        "completion_tokens": 2,
        "total_tokens": 23,
    }
    assert [r.additional_kwargs for r in responses[:-1]] == [{}] * 4
    assert scripted.chat_requests[0]["stream_options"] == {"include_usage": True}


async def test_error_status_raises_openai_error(scripted: ScriptedOpenAI) -> None:
    scripted.script(Reply(status=500, error_message="scripted outage"))
    async with client(scripted) as api:
        with pytest.raises(openai.InternalServerError) as caught:
            await api.chat.completions.create(model=MODEL, messages=USER, stream=True)

    assert caught.value.status_code == 500
    assert caught.value.body == {
        "message": "scripted outage",
        "type": "server_error",
        "param": None,
        "code": None,
    }
    assert scripted.pending == 0
    assert len(scripted.chat_requests) == 1  # max_retries=0: exactly one attempt


async def test_hanging_stream_cancelled_by_client_is_counted(scripted: ScriptedOpenAI) -> None:
    scripted.script(Reply(tokens=["never"], hang=True))
    received: list[str | None] = []
    async with client(scripted) as api:
        stream = await api.chat.completions.create(model=MODEL, messages=USER, stream=True)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                async for chunk in stream:
                    received.append(chunk.choices[0].delta.content)
        await stream.close()
        assert scripted.cancelled in (0, 1)  # the server may not have noticed yet
        await eventually(lambda: scripted.cancelled == 1)

    assert received == [""]  # the role chunk, then nothing
    assert scripted.cancelled == 1


async def test_hanging_request_timed_out_by_client_is_counted(scripted: ScriptedOpenAI) -> None:
    scripted.script(Reply(tokens=["never"], hang=True))
    async with client(scripted, timeout_s=0.3) as api:
        with pytest.raises(openai.APITimeoutError):
            await api.chat.completions.create(model=MODEL, messages=USER)
        await eventually(lambda: scripted.cancelled == 1)

    assert scripted.cancelled == 1


async def test_completed_stream_is_not_counted_as_cancelled(scripted: ScriptedOpenAI) -> None:
    scripted.script(Reply(tokens=["a", "b"], delay_s=0.01))
    async with client(scripted) as api:
        stream = await api.chat.completions.create(model=MODEL, messages=USER, stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in stream])

    assert text == "ab"
    assert scripted.cancelled == 0


async def test_fail_after_drops_the_connection_mid_stream(scripted: ScriptedOpenAI) -> None:
    scripted.script(Reply(tokens=["one", "two", "three"], fail_after=2))
    received: list[str | None] = []
    async with client(scripted) as api:
        stream = await api.chat.completions.create(model=MODEL, messages=USER, stream=True)
        with pytest.raises(httpx.RemoteProtocolError):
            async for chunk in stream:
                received.append(chunk.choices[0].delta.content)

    assert received == ["", "one", "two"]


async def test_embeddings_are_deterministic_unit_vectors(scripted: ScriptedOpenAI) -> None:
    async with client(scripted) as api:
        first = await api.embeddings.create(model="e", input=["alpha", "beta"])  # base64
        again = await api.embeddings.create(model="e", input="alpha", encoding_format="float")
        small = await api.embeddings.create(model="e", input="alpha", dimensions=8)

    alpha, beta = (np.array(d.embedding) for d in first.data)
    assert alpha.shape == (1536,)
    assert abs(float(np.linalg.norm(alpha)) - 1.0) < 1e-5
    assert again.data[0].embedding == alpha.tolist()
    assert alpha.tolist() == embedding_vector("alpha").tolist()
    assert abs(float(alpha @ beta)) < 0.2  # unrelated texts: near-orthogonal
    assert small.data[0].embedding == embedding_vector("alpha", 8).tolist()
    assert first.usage.prompt_tokens == 2


async def test_llama_index_openai_embedding_path(scripted: ScriptedOpenAI) -> None:
    async with httpx.AsyncClient() as http:
        embed = OpenAIEmbedding(
            model="text-embedding-3-small",
            api_base=scripted.base_url,
            api_key="test",
            dimensions=16,
            max_retries=0,
            async_http_client=http,
        )
        vectors = await embed.aget_text_embedding_batch(["monad", "functor"])

    assert vectors == [embedding_vector(t, 16).tolist() for t in ("monad", "functor")]
    assert scripted.requests[0].path == "/v1/embeddings"
    assert scripted.requests[0].body["dimensions"] == 16


async def test_requests_are_recorded_in_order(scripted: ScriptedOpenAI) -> None:
    system: ChatCompletionSystemMessageParam = {"role": "system", "content": "Be brief."}
    async with client(scripted) as api:
        await api.chat.completions.create(model="tutor-model", messages=[system, *USER])
        await api.embeddings.create(model="embedder", input="x")

    assert [(r.path, r.body["model"]) for r in scripted.requests] == [
        ("/v1/chat/completions", "tutor-model"),
        ("/v1/embeddings", "embedder"),
    ]
    assert scripted.chat_requests[0]["messages"] == [system, *USER]


def test_sync_client_default_and_callable_replies() -> None:
    with ScriptedOpenAI() as server:
        api = openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0)
        with api:
            echoed = api.chat.completions.create(model=MODEL, messages=USER)
            server.default = lambda body: Reply.from_text(f"{len(body['messages'])} message")
            counted = api.chat.completions.create(model=MODEL, messages=USER)
            models = api.models.list()

    assert echoed.choices[0].message.content == "Scripted answer to: What is a monad?"
    assert counted.choices[0].message.content == "1 message"
    assert counted.usage is not None
    assert counted.usage.completion_tokens == 2  # ["1", " message"]
    assert [m.id for m in models.data] == ["gpt-4o-mini", "text-embedding-3-small"]


def test_exiting_releases_a_hanging_request() -> None:
    with httpx.Client(timeout=30) as http, ThreadPoolExecutor(1) as pool:
        with ScriptedOpenAI() as server:
            server.script(Reply(hang=True))
            url = f"{server.base_url}/chat/completions"
            future = pool.submit(http.post, url, json={"model": MODEL, "messages": USER})
            deadline = time.monotonic() + 5
            while not server.requests and time.monotonic() < deadline:
                time.sleep(0.01)
        response = future.result(timeout=10)

    assert response.status_code == 200  # released by the exit, with the scripted (no) tokens
    assert response.json()["choices"][0]["message"]["content"] == ""
