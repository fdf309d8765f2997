"""Is a cache hit cheap next to a miss? Whole chat turns, timed at the client, same LLM, same run.

Starts the real app (uvicorn, WebSocket ``/ws/stream``) over the sample courses ingested under a
throwaway ``benchcache…`` prefix, once per LLM: the local llama.cpp server (no key, no base URL)
and the scripted OpenAI-compatible server streaming tokens at a fixed pace. For each question a
first ask is a miss (distinct questions, empty cache at the start of each LLM's run) and the same
question again is a hit. Time runs from sending ``chat_request`` to receiving ``chat_response``.

    .venv/bin/python -m bench.cache_latency [--local N] [--scripted N] [--tokens 300 --delay-ms 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from websockets.asyncio.client import ClientConnection

from app.core.config import Settings
from app.main import create_app
from bench.common import bench_settings
from samples.render import render_all
from tests.support.client import ask, connect
from tests.support.ingest import ingest_paths
from tests.support.live_server import live_server
from tests.support.scripted_openai import JSON, Reply, ScriptedOpenAI

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples" / "courses"
WORKLOAD = ROOT / "evaluation" / "data" / "cache_workload.jsonl"
COURSE = "course_tik_01"
WARM_UP = "Apa yang dimaksud dengan pusat data?"
FILLER = "Jawaban ini menjelaskan materi modul dengan kalimat yang cukup panjang untuk siswa"


@dataclass(frozen=True)
class Pair:
    question: str
    miss_s: float
    hit_s: float
    miss_source: str
    hit_source: str
    hit_server_ms: float
    hit_laps: dict[str, float]  # server-side timings of the hit (context, embed, cache, ...)


def drop(url: str, prefix: str, indexes_only: str | None = None) -> None:
    """Drop search indexes (and their documents) under ``prefix``; then its keys unless told not."""
    client = redis.Redis.from_url(url)
    try:
        for raw in client.execute_command("FT._LIST"):  # type: ignore[no-untyped-call]
            name = raw.decode() if isinstance(raw, bytes) else str(raw)
            if name.startswith(indexes_only or prefix):
                client.execute_command("FT.DROPINDEX", name, "DD")  # type: ignore[no-untyped-call]
        if indexes_only is None:
            keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
            for start in range(0, len(keys), 500):
                client.delete(*keys[start : start + 500])
    finally:
        client.close()


def questions(limit: int) -> list[str]:
    """Distinct originals of the cache workload for the course: every first ask is a miss."""
    rows = [json.loads(line) for line in WORKLOAD.read_text(encoding="utf-8").splitlines()]
    picked = [r["text"] for r in rows if r["kind"] == "original" and r["course_id"] == COURSE]
    return picked[:limit]


def paced_reply(tokens: int, delay_s: float) -> Callable[[JSON], Reply]:
    words = FILLER.split()
    text = [f" {words[i % len(words)]}" for i in range(tokens)]
    return lambda body: Reply(tokens=text, delay_s=delay_s)


async def turn(ws: ClientConnection, query: str, wait_s: float) -> tuple[float, dict[str, Any]]:
    start = time.perf_counter()
    result = await ask(ws, query, timeout=wait_s)
    elapsed = time.perf_counter() - start
    final: dict[str, Any] = result.final
    if final["type"] != "chat_response":
        raise RuntimeError(f"turn failed: {final.get('error_code')} {final.get('error')}")
    return elapsed, final


async def measure(url: str, wanted: int, pool: list[str], wait_s: float) -> list[Pair]:
    """Miss then hit per question until ``wanted`` real misses (RAG answers) were timed."""
    ws, _ = await connect(url, user_id="bench-latency", course_id=COURSE)
    pairs: list[Pair] = []
    try:
        await turn(ws, WARM_UP, wait_s)  # first-use costs (model pages, connections) not counted
        for query in pool:
            miss_s, miss = await turn(ws, query, wait_s)
            hit_s, hit = await turn(ws, query, wait_s)
            pair = Pair(
                query,
                miss_s,
                hit_s,
                miss["response_source"],
                hit["response_source"],
                hit["latency_ms"],
                hit["metadata"].get("timings_ms") or {},
            )
            print(
                f"  miss {miss_s:7.3f}s ({pair.miss_source})  hit {hit_s:6.3f}s ({pair.hit_source})"
            )
            if pair.miss_source == "rag":
                pairs.append(pair)
            if len(pairs) >= wanted:
                break
    finally:
        await ws.close()
    return pairs


def run_llm(name: str, settings: Settings, wanted: int, wait_s: float) -> list[Pair]:
    drop(settings.redis_knowledge_url, settings.key_prefix, f"{settings.key_prefix}-answers")
    print(f"{name}: {settings.model_comprehensive} at {settings.llm_api_base}")
    with live_server(create_app(settings)) as url:
        return asyncio.run(measure(url, wanted, questions(wanted + 6), wait_s))


def summary(name: str, pairs: list[Pair]) -> str:
    valid = [p for p in pairs if p.hit_source == "cache"]
    if not valid:
        return f"{name}: no valid miss/hit pair"
    miss = statistics.median(p.miss_s for p in valid)
    hit = statistics.median(p.hit_s for p in valid)
    server = statistics.median(p.hit_server_ms for p in valid)
    ratios = sorted(p.hit_s / p.miss_s for p in valid)
    laps = sorted({k for p in valid for k in p.hit_laps})
    split = ", ".join(
        f"{k} {statistics.median(p.hit_laps.get(k, 0.0) for p in valid):.1f}" for k in laps
    )
    return (
        f"{name}: n={len(valid)} median miss {miss:.3f}s, median hit {hit * 1000:.1f}ms"
        f" (server {server:.1f}ms), hit/miss {hit / miss:.2%}"
        f" (per pair {ratios[0]:.2%}..{ratios[-1]:.2%}); hit laps ms: {split}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6380/0")
    parser.add_argument("--prefix", default=f"benchcache{uuid.uuid4().hex[:8]}")
    parser.add_argument("--local", type=int, default=6, help="misses against llama.cpp (0: skip)")
    parser.add_argument("--scripted", type=int, default=10, help="misses against the scripted LLM")
    parser.add_argument("--tokens", type=int, default=300)
    parser.add_argument("--delay-ms", type=float, default=20.0)
    args = parser.parse_args()
    if not args.prefix.startswith("benchcache"):
        raise SystemExit("the key prefix must start with 'benchcache'")
    results: list[str] = []
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        stack.callback(drop, args.redis_url, args.prefix)
        folder = Path(tmp)
        common = {"redis_knowledge_url": args.redis_url, "redis_cache_url": args.redis_url}
        base = bench_settings(args.prefix, folder, **common)
        render_all(SAMPLES, folder / "courses")
        for course in sorted((folder / "courses").iterdir()):
            ingest_paths(base, course.name, [course])
        if args.local:
            pairs = run_llm("llama.cpp", base, args.local, 600.0)
            results.append(summary("llama.cpp", pairs))
        if args.scripted:
            llm = stack.enter_context(ScriptedOpenAI())
            llm.default = paced_reply(args.tokens, args.delay_ms / 1000)
            scripted = bench_settings(
                args.prefix,
                folder,
                openai_api_base=llm.base_url,
                openai_model_comprehensive="gpt-4o-mini",
                **common,
            )
            pairs = run_llm(
                f"scripted {args.tokens}x{args.delay_ms:g}ms", scripted, args.scripted, 60
            )
            results.append(summary(f"scripted {args.tokens} tokens x {args.delay_ms:g} ms", pairs))
    print("\n".join(results))


if __name__ == "__main__":
    main()
