"""(b) Server time before the first chunk, LLM excluded, at 10k and 50k indexed chunks.

The index is the sample course ingested by the real pipeline plus synthetic chunks (see
``bench.synthetic``) under a private prefix. At each size two app instances over it — the default
query path (dense + per-course BM25 fused, cross-lingual glossary, refusal gate) and dense only
(those three off) — answer the same distinct questions, interleaved; the scripted LLM answers at
once. The apps start after the index has grown and the course's content version was bumped (as
ingestion does), and the warm-up questions wait for the course's BM25 build, so every measured
question has its lexical index. The number is the sum of the ``metadata.timings_ms`` laps before
``llm_first_token``. The cache is emptied after every question so each one misses; a second pass
asks questions twice to time the cache-hit path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

import redis
import websockets

from app.core.knowledge import KnowledgeKeys, chunk_schema
from app.main import create_app
from bench.common import (
    PRE_LLM_LAPS,
    REDIS_URL,
    Section,
    bench_settings,
    clear_answer_cache,
    drop_prefix,
    median,
    new_prefix,
    pct,
    table,
)
from bench.context import Context
from bench.llm_stub import llm_stub, model_name
from bench.questions import QUESTIONS
from bench.sample_index import QUESTION_COURSE, ingest_samples
from bench.synthetic import SyntheticWriter, read_chunks, wait_indexed
from bench.wsclient import TimedTurn, timed_ask
from tests.support.client import stream_url
from tests.support.live_server import live_server

NAME = "first_chunk"
TITLE = "(b) Server time before the first chunk (LLM excluded) at 10k and 50k chunks"
SIZES = (10_000, 50_000)
QUICK_SIZES = (1_000, 2_000)
HIT_LAPS = ("context", "embed", "scope", "curated", "cache")
WARMUP = 3


# the dense-only instance: the query path's optional legs and the gate off
DENSE_ONLY: dict[str, Any] = {"rag_lexical": "off", "rag_crosslingual": "off", "rag_refusal": False}


async def _measure(
    urls: dict[bool, str], questions: list[str], hits: int, clear: Callable[[], int]
) -> dict[str, list[TimedTurn]]:
    """Ask every question on both instances (misses), then ``hits`` questions twice (hits)."""
    params = {"user_id": "bench", "course_id": QUESTION_COURSE}
    out: dict[str, list[TimedTurn]] = {"hybrid": [], "dense": [], "hit": []}
    async with (
        websockets.connect(stream_url(urls[True], **params)) as hybrid,
        websockets.connect(stream_url(urls[False], **params)) as dense,
    ):
        await hybrid.recv()
        await dense.recv()
        for question in QUESTIONS[-WARMUP:]:
            for ws in (hybrid, dense):
                await timed_ask(ws, question)
                clear()
        for i, question in enumerate(questions):
            order = [("hybrid", hybrid), ("dense", dense)]
            for name, ws in order if i % 2 == 0 else order[::-1]:
                out[name].append(await timed_ask(ws, question))
                clear()
        for question in questions[:hits]:
            await timed_ask(hybrid, question)  # a miss: the answer is stored
            out["hit"].append(await timed_ask(hybrid, question))
            clear()
    return out


def _row(size: int, config: str, turns: list[TimedTurn], laps: tuple[str, ...]) -> list[object]:
    used = [t for t in turns if t.source == ("cache" if config == "cache hit" else "rag")]
    total = [sum(t.timings.get(lap, 0.0) for lap in laps) for t in used]
    no_embed = [sum(t.timings.get(lap, 0.0) for lap in laps if lap != "embed") for t in used]
    lap_p50 = [f"{median([t.timings.get(lap, 0.0) for t in used]):.1f}" for lap in PRE_LLM_LAPS]
    return [
        f"{size:,}",
        config,
        f"{len(used)}/{len(turns)}",
        f"{pct(total, 50):.1f}",
        f"{pct(total, 90):.1f}",
        f"{pct(no_embed, 50):.1f}",
        *lap_p50,
        f"{median([(t.first_chunk_s or 0) * 1000 for t in used]):.1f}",
    ]


def run(ctx: Context) -> Section:
    prefix = new_prefix("b")
    n_questions = ctx.reps(40, 6)
    hits = ctx.reps(10, 3)
    questions = list(QUESTIONS[:n_questions])
    sizes = QUICK_SIZES if ctx.quick else SIZES
    rows: list[list[object]] = []
    raw: dict[str, Any] = {"sizes": {}}
    client = redis.Redis.from_url(REDIS_URL)
    try:
        settings = bench_settings(prefix, ctx.data_dir("first-chunk-ingest"))
        real_count = ingest_samples(settings)
        schema = chunk_schema(settings)
        writer = SyntheticWriter(
            client, schema.index.prefix, read_chunks(client, schema.index.prefix)
        )
        versions = KnowledgeKeys.from_settings(settings).version(QUESTION_COURSE)
        with llm_stub() as llm_url:
            for size in sizes:
                written = writer.grow_to(size)
                waited = wait_indexed(client, schema.index.name, size)
                client.set(versions, f"bench-{size}")  # what ingestion does after writing
                with ExitStack() as stack:
                    urls = {
                        legs: stack.enter_context(
                            live_server(
                                create_app(
                                    bench_settings(
                                        prefix,
                                        ctx.data_dir(f"first-chunk-{legs}"),
                                        openai_api_base=llm_url,
                                        openai_model_comprehensive=model_name(20, 0),
                                        rag_lexical_build_wait_seconds=120.0,
                                        **({} if legs else DENSE_ONLY),
                                    )
                                )
                            )
                        )
                        for legs in (True, False)
                    }
                    # distinct texts per size: the app keeps recent query vectors, and a vector
                    # remembered from the previous size would hide the embedding cost of a miss
                    asked = [f"{q} ({size // 1000}k)" for q in questions]
                    turns = asyncio.run(
                        _measure(urls, asked, hits, lambda: clear_answer_cache(settings))
                    )
                rows.append(_row(size, "dense only", turns["dense"], PRE_LLM_LAPS))
                rows.append(_row(size, "dense + BM25 + glossary + gate (default)",
                                 turns["hybrid"], PRE_LLM_LAPS))  # fmt: skip
                rows.append(_row(size, "cache hit", turns["hit"], HIT_LAPS))
                raw["sizes"][str(size)] = {
                    "written": written,
                    "index_wait_s": waited,
                    "question_course_chunks": writer.share(QUESTION_COURSE),
                    "courses": len(writer.courses),
                    "turns": {k: [t.final.get("metadata") for t in v] for k, v in turns.items()},
                    "first_chunk_s": {k: [t.first_chunk_s for t in v] for k, v in turns.items()},
                }
    finally:
        client.close()
        drop_prefix(prefix)
    share = {s: raw["sizes"][str(s)]["question_course_chunks"] for s in sizes}
    markdown = "\n\n".join(
        [
            f"Index: {real_count} real sample-course chunks + synthetic ones over "
            f"{len(writer.courses)} courses; the question's course `{QUESTION_COURSE}` holds "
            + ", ".join(f"{v:,} chunks at {k:,}" for k, v in share.items())
            + f". {len(questions)} distinct questions per configuration (+{WARMUP} warm-up), "
            f"cache emptied after each; cache-hit path: {hits} questions asked twice. "
            "Milliseconds; `rag/N` counts answers that reached the LLM (the others were "
            "'not covered' and are left out).",
            table(
                [
                    "chunks",
                    "path",
                    "rag/N",
                    "pre-LLM p50",
                    "pre-LLM p90",
                    "p50 without embed",
                    *[f"{lap} p50" for lap in PRE_LLM_LAPS],
                    "client first chunk p50",
                ],
                rows,
            ),
        ]
    )
    return Section(NAME, TITLE, markdown, raw)
