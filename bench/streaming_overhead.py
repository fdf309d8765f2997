"""(a) Streaming overhead: ``/ws/stream`` against a bare Starlette WebSocket endpoint.

Both servers run under the same uvicorn configuration (tests.support.live_server) in this process
and stream the same 300 tokens with the same delay before each, coalesced by the same
``PhraseBuffer``. Ours gets its tokens from the scripted OpenAI-compatible server (another
process) over HTTP/SSE and does its real pre-LLM work first (history, embedding, cache lookup,
retrieval, prompt) and its cache store after; the bare endpoint produces the tokens itself.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from contextlib import ExitStack
from functools import partial

import websockets
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import ClientConnection

from app.main import create_app
from app.protocol.messages import ChatChunk
from app.ws.stream import PhraseBuffer
from bench.common import Section, clear_answer_cache, median, table
from bench.context import Context
from bench.llm_stub import answer_tokens, llm_stub, model_name
from bench.questions import TYPICAL
from bench.sample_index import QUESTION_COURSE
from bench.wsclient import TimedTurn, timed_ask
from tests.support.client import stream_url
from tests.support.live_server import live_server

NAME = "streaming"
TITLE = "(a) Streaming overhead: /ws/stream vs a bare WebSocket endpoint"
TOKENS = 300
DELAYS_MS = (0.0, 10.0)
WARMUP = 2


def bare_app(tokens: list[str], delay_s: float, interval_s: float, min_chars: int) -> Starlette:
    """A WebSocket endpoint that streams ``tokens`` itself, framed like ours, and nothing else."""

    async def endpoint(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_text(json.dumps({"type": "connection", "status": "connected"}))
        try:
            while True:
                request = json.loads(await ws.receive_text())
                await ws.send_text(json.dumps({"type": "chat_started", "query": request["query"]}))
                buffer, sent, index = PhraseBuffer(interval_s, min_chars), [], 0
                for token in tokens:
                    if delay_s > 0:
                        await asyncio.sleep(delay_s)
                    phrase = buffer.push(token)
                    if phrase:
                        index += 1
                        sent.append(phrase)
                        chunk = ChatChunk(chunk=phrase, chunk_index=index)
                        await ws.send_text(chunk.model_dump_json())
                rest = buffer.flush()
                if rest:
                    index += 1
                    sent.append(rest)
                    await ws.send_text(ChatChunk(chunk=rest, chunk_index=index).model_dump_json())
                final = {"type": "chat_response", "response": "".join(sent), "chunks_count": index}
                await ws.send_text(json.dumps(final))
        except WebSocketDisconnect:
            return

    return Starlette(routes=[WebSocketRoute("/ws/stream", endpoint)])


async def _compare(
    ours: str, bare: str, reps: int, clear: Callable[[], int]
) -> list[tuple[TimedTurn, TimedTurn]]:
    params = {"user_id": "bench", "course_id": QUESTION_COURSE}
    pairs: list[tuple[TimedTurn, TimedTurn]] = []
    async with (
        websockets.connect(stream_url(ours, **params), max_size=2**22) as ws_ours,
        websockets.connect(stream_url(bare, **params), max_size=2**22) as ws_bare,
    ):
        await ws_ours.recv()
        await ws_bare.recv()
        for rep in range(WARMUP + reps):
            order = [ws_ours, ws_bare] if rep % 2 == 0 else [ws_bare, ws_ours]
            turns: dict[ClientConnection, TimedTurn] = {}
            for ws in order:
                turns[ws] = await timed_ask(ws, TYPICAL)
                if ws is ws_ours:
                    clear()  # the next question must miss the cache and stream from the LLM
            if rep >= WARMUP:
                pairs.append((turns[ws_ours], turns[ws_bare]))
    return pairs


def _summarise(delay_ms: float, pairs: list[tuple[TimedTurn, TimedTurn]]) -> dict[str, float]:
    ours = [p[0] for p in pairs]
    bare = [p[1] for p in pairs]
    bad = [t.final for t in ours if t.source != "rag"]
    if bad:
        raise RuntimeError(f"our endpoint did not stream a RAG answer: {bad[0]}")
    ours_total = median([t.total_s * 1000 for t in ours])
    bare_total = median([t.total_s * 1000 for t in bare])
    streaming = median([t.total_s * 1000 - t.pre_llm_ms for t in ours])
    return {
        "delay_ms": delay_ms,
        "n": len(pairs),
        "ours_total_ms": ours_total,
        "bare_total_ms": bare_total,
        "ratio_total": ours_total / bare_total,
        "paired_ratio_total": median([o.total_s / b.total_s for o, b in pairs]),
        "ours_pre_llm_ms": median([t.pre_llm_ms for t in ours]),
        "ours_streaming_ms": streaming,
        "ratio_streaming": streaming / bare_total,
        "paired_ratio_streaming": median(
            [(o.total_s * 1000 - o.pre_llm_ms) / (b.total_s * 1000) for o, b in pairs]
        ),
        "ours_first_chunk_ms": median([(t.first_chunk_s or 0) * 1000 for t in ours]),
        "bare_first_chunk_ms": median([(t.first_chunk_s or 0) * 1000 for t in bare]),
        "ours_llm_first_token_ms": median([t.timings.get("llm_first_token", 0) for t in ours]),
        "ours_llm_stream_ms": median([t.timings.get("llm_stream", 0) for t in ours]),
        "ours_cache_store_ms": median([t.timings.get("cache_store", 0) for t in ours]),
        "ours_outside_laps_ms": median([t.total_s * 1000 - sum(t.timings.values()) for t in ours]),
        "ours_chunks": median([float(t.chunks) for t in ours]),
        "bare_chunks": median([float(t.chunks) for t in bare]),
        "ideal_ms": TOKENS * delay_ms,
    }


def run(ctx: Context) -> Section:
    reps = ctx.reps(20, 4)
    results = []
    with llm_stub() as llm_url:
        for delay_ms in DELAYS_MS:
            settings = ctx.settings(
                "streaming",
                openai_api_base=llm_url,
                openai_model_comprehensive=model_name(TOKENS, delay_ms),
            )
            bare = bare_app(
                answer_tokens(TOKENS),
                delay_ms / 1000,
                settings.stream_flush_interval_ms / 1000,
                settings.stream_min_chunk_chars,
            )
            with ExitStack() as stack:
                ours_url = stack.enter_context(live_server(create_app(settings)))
                bare_url = stack.enter_context(live_server(bare))
                pairs = asyncio.run(
                    _compare(ours_url, bare_url, reps, partial(clear_answer_cache, settings))
                )
            results.append(_summarise(delay_ms, pairs))
    rows = [
        (
            f"{r['delay_ms']:g} ms",
            int(r["n"]),
            r["ours_total_ms"],
            r["bare_total_ms"],
            f"{r['ratio_total']:.3f}",
            f"{r['paired_ratio_total']:.3f}",
            r["ours_pre_llm_ms"],
            r["ours_streaming_ms"],
            f"{r['ratio_streaming']:.3f}",
            f"{r['paired_ratio_streaming']:.3f}",
        )
        for r in results
    ]
    detail = [
        (
            f"{r['delay_ms']:g} ms",
            r["ideal_ms"],
            r["ours_first_chunk_ms"],
            r["bare_first_chunk_ms"],
            r["ours_llm_first_token_ms"],
            r["ours_llm_stream_ms"],
            r["ours_cache_store_ms"],
            r["ours_outside_laps_ms"],
            f"{r['ours_chunks']:.0f} / {r['bare_chunks']:.0f}",
        )
        for r in results
    ]
    markdown = "\n\n".join(
        [
            f"{TOKENS} tokens per answer, N = {reps} interleaved repetitions per delay "
            f"(+{WARMUP} warm-up), one connection per endpoint, medians in ms.",
            table(
                [
                    "token delay",
                    "N",
                    "ours wall",
                    "bare wall",
                    "ratio (medians)",
                    "ratio (median of pairs)",
                    "ours pre-LLM laps",
                    "ours wall − pre-LLM",
                    "streaming ratio (medians)",
                    "streaming ratio (pairs)",
                ],
                rows,
            ),
            table(
                [
                    "token delay",
                    "ideal stream (tokens × delay)",
                    "ours first chunk",
                    "bare first chunk",
                    "ours llm_first_token lap",
                    "ours llm_stream lap",
                    "ours cache_store lap",
                    "ours wall − all laps",
                    "chunks ours / bare",
                ],
                detail,
            ),
        ]
    )
    return Section(NAME, TITLE, markdown, {"results": results})
