"""(r) What keeping answers resumable costs: every frame also appended to the turn's Redis Stream.

Two measurements, resume on (``RESUME_WINDOW_SECONDS=60``) against off (``0``), side by side in
one run. (1) The turn sink alone, in process: ``chat_chunk`` frames through ``TurnSink.send`` to a
socket that discards them, yielding to the loop between chunks as a streaming answer does, so the
log writer's pipelined ``XADD``\\ s run inside the measured time; per chunk, medians of runs.
(2) End to end: two of our servers over the same sample index and LLM stub (cache off), one
connection each, the same question interleaved; wall time per answer, medians and their ratio.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from contextlib import ExitStack

from app.core.redis import async_client
from app.main import create_app
from app.protocol.messages import ChatChunk, ChatResponse, ModelPricing, ResponseMetadata
from app.protocol.messages import TokenUsage as Usage
from app.services.turnlog import TurnLog
from app.ws.sink import TurnSink
from bench.common import REDIS_URL, Section, median, new_prefix, table
from bench.context import Context
from bench.llm_stub import answer_tokens, llm_stub, model_name
from bench.streaming_overhead import _compare
from tests.support.live_server import live_server

NAME = "resume"
TITLE = "(r) Resume overhead: answers teed into a Redis Stream vs not"
CHUNKS = 200
TOKENS = 300
DELAY_MS = 0.0


def _final(chunks: int) -> ChatResponse:
    return ChatResponse(
        response="x",
        sources=[],
        cached=False,
        token_usage=Usage(model_pricing=ModelPricing(
            input_cost_per_1k=0, output_cost_per_1k=0, total_cost=0
        )),
        latency_ms=0.0,
        metadata=ResponseMetadata(
            source="rag", source_type="knowledge_base", response_type="rag_response",
            model_used=None, personalized=False, course_id=None, cost_usd=0.0,
            rag_threshold_used=0.3, documents_retrieved=0, documents_used=0,
        ),
        response_source="rag",
        chunks_count=chunks,
    )  # fmt: skip


async def _sink_runs(reps: int) -> tuple[list[float], list[float]]:
    """Microseconds per chunk through the sink, (off, on), one pair per repetition."""
    prefix = new_prefix("r")
    client = async_client(REDIS_URL, 5.0)
    turn_log = TurnLog(client, prefix, 60, 5.0)
    phrases = [" ".join(answer_tokens(4)) + f" {i}" for i in range(CHUNKS)]

    async def discard(text: str) -> None:
        return None

    async def one(with_log: bool) -> float:
        writer = turn_log.writer(uuid.uuid4().hex, "bench") if with_log else None
        started = time.perf_counter()
        sink = TurnSink(discard, writer)
        for index, phrase in enumerate(phrases, 1):
            await sink.send(ChatChunk(chunk=phrase, chunk_index=index))
            await asyncio.sleep(0)  # a streaming answer waits for its next token here
        await sink.send(_final(CHUNKS))
        await sink.close()
        return (time.perf_counter() - started) / CHUNKS * 1e6

    off: list[float] = []
    on: list[float] = []
    try:
        for rep in range(reps + 2):
            pair = (await one(False), await one(True))
            if rep >= 2:  # warm-up
                off.append(pair[0])
                on.append(pair[1])
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
        if keys:
            await client.delete(*keys)
        await client.aclose()
    return off, on


def run(ctx: Context) -> Section:
    reps = ctx.reps(30, 5)
    off_us, on_us = asyncio.run(_sink_runs(reps))
    with llm_stub() as llm_url:
        common = {
            "openai_api_base": llm_url,
            "openai_model_comprehensive": model_name(TOKENS, DELAY_MS),
            "cache_enabled": False,
        }
        on_settings = ctx.settings("resume-on", resume_window_seconds=60, **common)
        off_settings = ctx.settings("resume-off", resume_window_seconds=0, **common)
        with ExitStack() as stack:
            on_url = stack.enter_context(live_server(create_app(on_settings)))
            off_url = stack.enter_context(live_server(create_app(off_settings)))
            pairs = asyncio.run(_compare(on_url, off_url, ctx.reps(20, 4), lambda: 0))
    on_wall = median([p[0].total_s * 1000 for p in pairs])
    off_wall = median([p[1].total_s * 1000 for p in pairs])
    chunks = median([float(p[0].chunks) for p in pairs])
    raw = {
        "sink_us_per_chunk_off": median(off_us),
        "sink_us_per_chunk_on": median(on_us),
        "wall_ms_on": on_wall,
        "wall_ms_off": off_wall,
        "paired_ratio": median([a.total_s / b.total_s for a, b in pairs]),
        "chunks": chunks,
        "n_sink": reps,
        "n_wall": len(pairs),
    }
    markdown = "\n\n".join(
        [
            f"(1) {CHUNKS} chunks through the turn sink, N = {reps} (+2 warm-up), µs per chunk; "
            f"(2) {TOKENS}-token answers from the stub (no delay), N = {len(pairs)} interleaved, "
            "ms per answer.",
            table(
                ["measure", "resume off", "resume on", "on / off", "on − off"],
                [
                    (
                        "sink, µs per chunk",
                        f"{raw['sink_us_per_chunk_off']:.1f}",
                        f"{raw['sink_us_per_chunk_on']:.1f}",
                        f"{raw['sink_us_per_chunk_on'] / raw['sink_us_per_chunk_off']:.2f}",
                        f"{raw['sink_us_per_chunk_on'] - raw['sink_us_per_chunk_off']:.1f}",
                    ),
                    (
                        f"answer wall, ms ({chunks:.0f} chunks)",
                        f"{off_wall:.1f}",
                        f"{on_wall:.1f}",
                        f"{on_wall / off_wall:.3f} (pairs {raw['paired_ratio']:.3f})",
                        f"{on_wall - off_wall:.1f}",
                    ),
                ],
            ),
        ]
    )
    return Section(NAME, TITLE, markdown, raw)
