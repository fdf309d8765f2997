"""(f) 100 simultaneous cache-miss questions against the embedding model's own batch floor.

``tutor-serve`` (1 worker) over the sample course, the scripted LLM answering at once (20 tokens,
no delay), the semantic cache looked up as usual but with a threshold that only an exact repeat
meets (the questions of one burst differ only in a suffix and would otherwise hit each other).
100 WebSocket clients each send a different question at the same moment; the first chunk of
each is timed from the moment it was sent. In the same run, in this process, the bundled model
embeds the same 100 questions in batches of ``QUERY_BATCH_SIZE`` (the floor: no server can start
answering 100 fresh questions before their vectors exist). The goal: p95 first chunk ÷ floor
≤ 1.5.

A lone question must not pay for batching: the same model embeds single questions through the
batcher and through a plain worker-thread call, interleaved (medians, ms).

    .venv/bin/python -m bench.run_all --only concurrency
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import websockets

from app.core.config import Settings
from app.core.embeddings import LocalE5Embedding
from bench.common import Section, clear_answer_cache, median, pct, table
from bench.context import Context
from bench.llm_stub import llm_stub, model_name
from bench.questions import QUESTIONS
from bench.sample_index import QUESTION_COURSE
from bench.serverproc import TreeSampler, tutor_serve
from bench.wsclient import TimedTurn, timed_ask
from tests.support.client import stream_url

NAME = "concurrency"
TITLE = "(f) 100 concurrent cache-miss questions vs the embedding model's batch floor"
CLIENTS = 100
BATCH: int = Settings.model_fields["query_batch_size"].default  # the shipped default


def questions(count: int, rep: int) -> list[str]:
    return [f"{QUESTIONS[i % len(QUESTIONS)]} ({rep}-{i})" for i in range(count)]


async def _burst(base: str, asked: list[str]) -> list[TimedTurn]:
    params = {"course_id": QUESTION_COURSE}
    sockets = [
        await websockets.connect(stream_url(base, user_id=f"c{i}", **params), max_size=2**22)
        for i in range(len(asked))
    ]
    try:
        for ws in sockets:
            await ws.recv()
        start = asyncio.Event()

        async def one(ws: Any, question: str) -> TimedTurn:
            await start.wait()
            return await timed_ask(ws, question, limit_s=120)

        tasks = [asyncio.create_task(one(ws, q)) for ws, q in zip(sockets, asked, strict=True)]
        await asyncio.sleep(0.2)
        start.set()
        return list(await asyncio.gather(*tasks))
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets))


def _floor_ms(model: LocalE5Embedding, asked: list[str]) -> float:
    model._recent.clear()
    started = time.perf_counter()
    for i in range(0, len(asked), BATCH):
        model._model.query(asked[i : i + BATCH])
    return (time.perf_counter() - started) * 1000


async def _single(model: LocalE5Embedding, reps: int) -> tuple[list[float], list[float]]:
    batched: list[float] = []
    plain: list[float] = []
    for i in range(reps):
        for way in ("batched", "plain") if i % 2 == 0 else ("plain", "batched"):
            model._recent.clear()
            text = f"{QUESTIONS[i % len(QUESTIONS)]} ({way} {i})"
            started = time.perf_counter()
            if way == "batched":
                await model.aget_query_embedding(text)
            else:
                await asyncio.to_thread(model._model.query, text)
            (batched if way == "batched" else plain).append((time.perf_counter() - started) * 1000)
    return batched, plain


def run(ctx: Context) -> Section:
    reps = ctx.reps(3, 1)
    clients = CLIENTS
    prefix = ctx.sample_prefix
    clear = ctx.settings("concurrency-clear")
    model = LocalE5Embedding(query_batch_size=BATCH)
    rounds: list[dict[str, Any]] = []
    with llm_stub() as llm_url, tutor_serve(
        prefix, llm_url, ctx.data_dir("concurrency"), model_name(20, 0),
        QUERY_BATCH_SIZE=str(BATCH), LOG_LEVEL="INFO",
        # every question misses: the lookup runs, but only an exact repeat could hit
        CACHE_DISTANCE_THRESHOLD="0.000001",
    ) as server:  # fmt: skip
        asyncio.run(_burst(server.base, questions(4, -1)))  # warm-up
        for rep in range(reps):
            clear_answer_cache(clear)
            asked = questions(clients, rep)
            floor_before = _floor_ms(model, asked)
            with TreeSampler(server.pid) as rss:
                turns = asyncio.run(_burst(server.base, asked))
            floor_after = _floor_ms(model, asked)
            firsts = [t.first_chunk_s * 1000 for t in turns if t.first_chunk_s is not None]
            floor = statistics.mean([floor_before, floor_after])
            rounds.append(
                {
                    "ok": sum(t.ok for t in turns),
                    "errors": [t.final.get("error_code") for t in turns if not t.ok],
                    "cached": sum(bool(t.final.get("cached")) for t in turns),
                    "first_p50": pct(firsts, 50),
                    "first_p95": pct(firsts, 95),
                    "turn_p95": pct([t.total_s * 1000 for t in turns], 95),
                    "embed_lap_p95": pct([t.timings.get("embed", 0.0) for t in turns], 95),
                    "floor_ms": floor,
                    "ratio": pct(firsts, 95) / floor,
                    "rss_peak_mib": rss.peak_mib,
                }
            )
    batched, plain = asyncio.run(_single(model, ctx.reps(100, 10)))
    rows = [
        (
            i + 1,
            f"{r['ok']}/{clients}",
            r["cached"],
            r["first_p50"],
            r["first_p95"],
            r["turn_p95"],
            r["embed_lap_p95"],
            r["floor_ms"],
            f"**{r['ratio']:.2f}**",
            r["rss_peak_mib"],
        )
        for i, r in enumerate(rounds)
    ]
    raw: dict[str, Any] = {"rounds": rounds, "single_batched_ms": batched, "single_plain_ms": plain}
    markdown = "\n\n".join(
        [
            f"`tutor-serve`, 1 worker, scripted LLM (20 tokens, no delay); {clients} clients send "
            f"distinct questions at once; floor = the bundled model embedding the same "
            f"{clients} questions in batches of {BATCH} in the benchmark process (mean of "
            "before and after the burst). Times in ms.",
            table(
                ["round", "answered", "cache hits", "first chunk p50", "first chunk p95",
                 "turn p95", "embed lap p95", "model floor", "p95 ÷ floor", "tree RSS peak MiB"],
                rows,
            ),
            table(
                ["one question alone", "median ms", "p90 ms"],
                [
                    ("through the micro-batcher", median(batched), pct(batched, 90)),
                    ("plain worker-thread call", median(plain), pct(plain, 90)),
                    ("difference of medians", median(batched) - median(plain), ""),
                    ("median of paired differences (same rep)",
                     median([b - q for b, q in zip(batched, plain, strict=True)]), ""),
                ],
            ),
        ]
    )  # fmt: skip
    return Section(NAME, TITLE, markdown, raw)
