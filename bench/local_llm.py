"""(c) The local model through the real app: time to first token and tokens per second.

``OPENAI_API_BASE`` and the key unset, so the app talks to the project's llama.cpp server on
127.0.0.1:8091 (it serves one request at a time, and other users of this machine may queue on it).
Two instances answer the same questions, interleaved: the default prompt budget for the local
model (whole top-ranked chunks within ``context_chars``, usually one chunk) and a budget that
admits three sources (``RAG_TOP_K=3``, ``RAG_MAX_CONTEXT_CHARS=4000``). Cache emptied after each.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import ExitStack
from functools import partial
from typing import Any

import httpx
import websockets

from app.core.config import Settings
from app.main import create_app
from bench.common import Section, clear_answer_cache, median, table
from bench.context import Context
from bench.questions import QUESTIONS, TYPICAL
from bench.sample_index import QUESTION_COURSE
from bench.wsclient import TimedTurn, timed_ask
from tests.support.client import stream_url
from tests.support.live_server import live_server

NAME = "local_llm"
TITLE = "(c) Local model (llama.cpp) through the real app: TTFT and tokens/s"
CONFIGS: dict[str, dict[str, Any]] = {
    "default budget": {},
    "3 sources": {"rag_top_k": 3, "rag_max_context_chars": 4000},
}
# Questions whose three best chunks are all within the distance threshold.
LOCAL_QUESTIONS = (
    TYPICAL,
    "Jelaskan klasifikasi tier pusat data.",
    "Apa itu aturan backup 3-2-1?",
    "Apa arti RPO dan RTO?",
    "Apa perbedaan model client-server dan peer-to-peer?",
    "Jelaskan macam-macam topologi jaringan.",
)
KEYS = (
    "sources",
    "client_ttft_ms",
    "llm_first_token_ms",
    "pre_llm_ms",
    "input_tokens",
    "output_tokens",
    "llm_stream_ms",
    "decode_tps",
    "total_s",
)


async def _ask_all(
    urls: dict[str, str], questions: list[str], clear: Callable[[], int]
) -> dict[str, list[tuple[str, TimedTurn]]]:
    """Every question on every instance, interleaved; the instances' question lists are rotated
    against each other so two consecutive prompts never share their sources (llama.cpp reuses
    the KV cache of the previous prompt's common prefix, which would flatter the second one)."""
    params = {"user_id": "bench", "course_id": QUESTION_COURSE}
    out: dict[str, list[tuple[str, TimedTurn]]] = {name: [] for name in urls}
    shift = {name: c * len(questions) // len(urls) for c, name in enumerate(urls)}
    async with Sockets() as sockets:
        ws = {name: await sockets.connect(stream_url(url, **params)) for name, url in urls.items()}
        for name in urls:
            await timed_ask(ws[name], QUESTIONS[20], limit_s=300)  # warm-up, not counted
            clear()
        for i in range(len(questions)):
            names = list(urls) if i % 2 == 0 else list(urls)[::-1]
            for name in names:
                asked = questions[(i + shift[name]) % len(questions)]
                out[name].append((asked, await timed_ask(ws[name], asked, limit_s=300)))
                clear()
    return out


class Sockets:
    """Opens WebSocket connections (reading their ``connection`` frame) and closes them all."""

    def __init__(self) -> None:
        self._open: list[websockets.ClientConnection] = []

    async def connect(self, url: str) -> websockets.ClientConnection:
        ws = await websockets.connect(url, max_size=2**22)
        self._open.append(ws)
        await ws.recv()
        return ws

    async def __aenter__(self) -> Sockets:
        return self

    async def __aexit__(self, *exc: object) -> None:
        for ws in self._open:
            await ws.close()


def _row(question: str, turn: TimedTurn) -> dict[str, Any]:
    laps = turn.timings
    usage = turn.final.get("token_usage") or {}
    tokens = int(usage.get("output_tokens", 0))
    stream_s = laps.get("llm_stream", 0.0) / 1000
    return {
        "question": question,
        "source": turn.source,
        "sources": len(turn.final.get("sources") or []),
        "client_ttft_ms": (turn.first_chunk_s or 0) * 1000,
        "pre_llm_ms": turn.pre_llm_ms,
        "llm_first_token_ms": laps.get("llm_first_token", 0.0),
        "llm_stream_ms": laps.get("llm_stream", 0.0),
        "input_tokens": int(usage.get("input_tokens", 0)),
        "output_tokens": tokens,
        "decode_tps": (tokens - 1) / stream_s if stream_s > 0 else 0.0,
        "total_s": turn.total_s,
    }


def run(ctx: Context) -> Section:
    settings: dict[str, Settings] = {
        name: ctx.settings("local-llm", **overrides) for name, overrides in CONFIGS.items()
    }
    first = next(iter(settings.values()))
    assert first.uses_local_llm
    httpx.get(f"{first.llm_api_base}/models", timeout=10).raise_for_status()  # `make llm` first
    questions = list(LOCAL_QUESTIONS[: ctx.reps(len(LOCAL_QUESTIONS), 2)])
    with ExitStack() as stack:
        urls = {n: stack.enter_context(live_server(create_app(s))) for n, s in settings.items()}
        turns = asyncio.run(_ask_all(urls, questions, partial(clear_answer_cache, first)))
    rows = {
        name: sorted((_row(q, t) for q, t in asked), key=lambda r: questions.index(r["question"]))
        for name, asked in turns.items()
    }
    medians = {
        name: {k: median([float(r[k]) for r in rs if r["source"] == "rag"]) for k in KEYS}
        for name, rs in rows.items()
    }
    summary = table(
        ["config", "context chars", "N (rag)", *KEYS],
        [
            [name, s.context_chars, sum(1 for r in rows[name] if r["source"] == "rag")]
            + [medians[name][k] for k in KEYS]
            for name, s in settings.items()
        ],
    )
    per_question = table(
        ["config", "question", "sources", "client TTFT ms", "llm_first_token ms", "in tok",
         "out tok", "tok/s", "wall s"],
        [
            (name, r["question"], r["sources"], r["client_ttft_ms"], r["llm_first_token_ms"],
             r["input_tokens"], r["output_tokens"], r["decode_tps"], r["total_s"])
            for name, rs in rows.items()
            for r in rs
        ],
    )  # fmt: skip
    markdown = "\n\n".join(
        [
            f"Model `{first.model_comprehensive}`; {len(questions)} questions per config, "
            "interleaved, 1 warm-up each not counted. Client TTFT is send → first "
            "`chat_chunk`; `llm_first_token` is the server lap from the LLM call to its first "
            "token (mostly prompt processing); tok/s = (output tokens − 1) / `llm_stream` lap; "
            "input tokens are counted by the server's tokenizer. Medians:",
            summary,
            "Per question:",
            per_question,
        ]
    )
    return Section(NAME, TITLE, markdown, {"rows": rows, "medians": medians})
