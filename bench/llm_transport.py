"""(e) CPU per streamed token: the server's LLM path vs a plain SSE read of the same stream.

One scripted OpenAI-compatible server (its own process) streams the same answer of ``TOKENS``
tokens with no delay. This process reads it four ways, interleaved, and measures its own CPU time
(``time.process_time``: the server's CPU is not in it):

* ``plain``: httpx ``aiter_lines`` + ``json.loads`` per event, nothing else — the floor;
* ``ours``: ``app.services.llm.stream_chat`` over ``CompatibleOpenAI.astream_chat`` — the path
  every answer takes (LlamaIndex callbacks and instrumentation events included);
* ``sdk``: the openai SDK's async stream alone;
* ``llamaindex``: stock llama-index-llms-openai ``astream_chat`` (what the server used before).

    .venv/bin/python -m bench.llm_transport
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import openai
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.llms.openai import OpenAI

from app.core.config import Settings
from app.services.llm import Delta, build_llm, stream_chat
from bench.common import Section, median, table
from bench.context import Context
from bench.llm_stub import llm_stub, model_name

NAME = "llm_transport"
TITLE = "(e) CPU per streamed token: our LLM path vs a plain SSE read"
TOKENS = 3000
MESSAGES = [ChatMessage(role=MessageRole.USER, content="Jelaskan infrastruktur TI.")]
Reader = Callable[[], Awaitable[int]]


def _readers(base: str, http: httpx.AsyncClient) -> dict[str, Reader]:
    model = model_name(TOKENS, 0)
    body = {
        "model": model,
        "messages": [{"role": "user", "content": "Jelaskan infrastruktur TI."}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }

    async def plain() -> int:
        count = 0
        async with http.stream("POST", f"{base}/chat/completions", json=body) as response:
            async for line in response.aiter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                event = json.loads(data)
                choices = event.get("choices")
                if choices and choices[0]["delta"].get("content"):
                    count += 1
        return count

    settings = Settings(_env_file=None, openai_api_base=base, openai_api_key="sk-bench")
    ours_llm = build_llm(settings, model, http)

    async def ours() -> int:
        count = 0
        async for event in stream_chat(ours_llm, MESSAGES, 30.0, 30.0):
            count += isinstance(event, Delta)
        return count

    sdk_client = openai.AsyncOpenAI(
        base_url=base, api_key="sk-bench", http_client=http, max_retries=0
    )

    async def sdk() -> int:
        count = 0
        stream = await sdk_client.chat.completions.create(**body)  # type: ignore[call-overload]
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                count += 1
        return count

    stock = OpenAI(
        model="gpt-4o-mini",  # a name llama-index knows; the stub answers by the body's model
        api_key="sk-bench",
        api_base=base,
        max_retries=0,
        async_http_client=http,
        additional_kwargs={"stream_options": {"include_usage": True}, "model": model},
    )

    async def llamaindex() -> int:
        count = 0
        async for response in await stock.astream_chat(MESSAGES):
            count += bool(response.delta)
        return count

    return {"plain": plain, "ours": ours, "sdk": sdk, "llamaindex": llamaindex}


async def _measure(base: str, reps: int) -> dict[str, list[float]]:
    per_token: dict[str, list[float]] = {}
    async with httpx.AsyncClient(timeout=60) as http:
        readers = _readers(base, http)
        for rep in range(reps + 1):  # the first round warms connections and imports
            names = list(readers)
            names = names if rep % 2 == 0 else names[::-1]
            for name in names:
                cpu = time.process_time()
                tokens = await readers[name]()
                spent = time.process_time() - cpu
                if tokens != TOKENS:
                    raise RuntimeError(f"{name} read {tokens} tokens, expected {TOKENS}")
                if rep > 0:
                    per_token.setdefault(name, []).append(spent / tokens * 1e6)
    return per_token


def run(ctx: Context) -> Section:
    reps = ctx.reps(15, 3)
    with llm_stub() as base:
        per_token = asyncio.run(_measure(base, reps))
    plain = median(per_token["plain"])
    rows = [
        (name, f"{median(values):.1f}", f"{min(values):.1f}", f"{median(values) / plain:.2f}")
        for name, values in per_token.items()
    ]
    raw: dict[str, Any] = {"tokens": TOKENS, "reps": reps, "per_token_us": per_token}
    raw["ratio_ours_to_plain"] = median(per_token["ours"]) / plain
    markdown = "\n\n".join(
        [
            f"{TOKENS} tokens per stream, no delay, {reps} interleaved repetitions per reader; "
            "CPU time of the reading process per token (µs).",
            table(["reader", "median µs/token", "min µs/token", "÷ plain (medians)"], rows),
        ]
    )
    return Section(NAME, TITLE, markdown, raw)


if __name__ == "__main__":
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        print(run(Context(Path(tmp))).render("python -m bench.llm_transport"))
