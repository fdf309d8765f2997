"""(d) Server process memory: at rest, and during 50 concurrent streaming chats.

The server runs as its own process (``tutor-serve``, configured through the environment like a
deployment), so its resident set is not mixed with the benchmark's; ``/proc/<pid>/status`` is
sampled every 20 ms. The scripted LLM streams 300 tokens with 20 ms before each (~6 s per
answer), so all 50 answers are in flight together.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import websockets

from bench.common import REDIS_URL, ROOT, Section, clear_answer_cache, median, table
from bench.context import Context
from bench.llm_stub import llm_stub, model_name
from bench.questions import TYPICAL
from bench.sample_index import QUESTION_COURSE
from bench.wsclient import TimedTurn, timed_ask
from tests.support.client import stream_url

NAME = "server_rss"
TITLE = "(d) Server process RSS at rest and during 50 concurrent streaming chats"
CHATS = 50
TOKENS, DELAY_MS = 300, 20.0
MIB = 1024.0


def status_kb(pid: int) -> dict[str, int]:
    """``VmRSS``, ``VmHWM`` … of a process, in kB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name.startswith("Vm") and rest.strip().endswith("kB"):
            values[name] = int(rest.split()[0])
    return values


class RssSampler:
    """Samples VmRSS of ``pid`` in a background thread until stopped."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self._pid = pid
        self._interval = interval
        self._stop = threading.Event()
        self.samples: list[int] = []
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(status_kb(self._pid)["VmRSS"])
            self._stop.wait(self._interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def rss_now(pid: int, seconds: float = 2.0) -> float:
    """Median VmRSS (MiB) over a short quiet window."""
    with RssSampler(pid, 0.05) as sampler:
        time.sleep(seconds)
    return median([float(s) for s in sampler.samples]) / MIB


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(prefix: str, port: int, llm_url: str, data_dir: Path) -> dict[str, str]:
    ours = ("OPENAI_", "REDIS_", "RAG_", "DATABASE_URL", "KEY_PREFIX", "EMBEDDING_", "CACHE_")
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(ours)}
    env.update(
        KEY_PREFIX=prefix,
        HOST="127.0.0.1",
        PORT=str(port),
        OPENAI_API_BASE=llm_url,
        OPENAI_MODEL_COMPREHENSIVE=model_name(TOKENS, DELAY_MS),
        REDIS_KNOWLEDGE_URL=REDIS_URL,
        REDIS_CACHE_URL=REDIS_URL,
        DATA_DIR=str(data_dir),
        DATABASE_URL=f"sqlite+aiosqlite:///{data_dir / 'tutor.db'}",
        EMBEDDING_PROVIDER="local",
        RATE_LIMIT_REQUESTS="0",
        RATE_LIMIT_IP_REQUESTS="0",
        WS_MAX_CONNECTIONS_PER_IP="0",
        LOG_LEVEL="WARNING",
        # The stub's filler text is not course material: the grounding check would rewrite it,
        # and these benchmarks measure transport and memory (chunks must add up to `response`).
        RAG_GROUNDING="off",
    )
    return env


def wait_healthy(base: str, proc: subprocess.Popen[bytes], timeout: float = 180.0) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"tutor-serve exited with {proc.returncode}")
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return time.perf_counter() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError("tutor-serve did not become healthy")


async def _one(base: str, user: str) -> tuple[TimedTurn, float, float]:
    params = {"user_id": user, "course_id": QUESTION_COURSE}
    async with websockets.connect(stream_url(base, **params), max_size=2**22) as ws:
        await ws.recv()
        started = time.perf_counter()
        turn = await timed_ask(ws, TYPICAL, limit_s=300)
        return turn, started, time.perf_counter()


async def _chats(base: str, count: int) -> list[tuple[TimedTurn, float, float]]:
    return await asyncio.gather(*[_one(base, f"bench-user-{i}") for i in range(count)])


def run(ctx: Context) -> Section:
    chats = ctx.reps(CHATS, 10)
    prefix = ctx.sample_prefix
    data_dir = ctx.data_dir("server-rss")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    clear_settings = ctx.settings("server-rss-clear")
    serve = Path(sys.executable).parent / "tutor-serve"
    with llm_stub() as llm_url, (data_dir / "server.log").open("wb") as log:
        proc = subprocess.Popen(
            [str(serve)], cwd=ROOT, env=server_env(prefix, port, llm_url, data_dir),
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            startup_s = wait_healthy(base, proc)
            time.sleep(3.0)
            at_start = rss_now(proc.pid)
            warm, _, _ = asyncio.run(_one(base, "bench-warmup"))
            clear_answer_cache(clear_settings)
            time.sleep(1.0)
            at_rest = rss_now(proc.pid)
            with RssSampler(proc.pid) as sampler:
                results = asyncio.run(_chats(base, chats))
            hwm = status_kb(proc.pid)["VmHWM"] / MIB
            time.sleep(3.0)
            after = rss_now(proc.pid)
            clear_answer_cache(clear_settings)
            with RssSampler(proc.pid) as sampler2:  # again: does memory keep growing?
                results2 = asyncio.run(_chats(base, chats))
            time.sleep(3.0)
            after2 = rss_now(proc.pid)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
    clear_answer_cache(clear_settings)
    turns = [r[0] for r in results]
    completed = [t for t in turns if t.ok and t.source == "rag" and t.chunks > 0]
    overlap_start, overlap_end = max(r[1] for r in results), min(r[2] for r in results)
    peak = max(sampler.samples) / MIB
    raw: dict[str, Any] = {
        "startup_s": startup_s,
        "rss_after_startup_mib": at_start,
        "rss_at_rest_mib": at_rest,
        "rss_peak_mib": peak,
        "vmhwm_mib": hwm,
        "rss_after_mib": after,
        "rss_peak2_mib": max(sampler2.samples) / MIB,
        "rss_after2_mib": after2,
        "completed2": sum(1 for r in results2 if r[0].ok and r[0].source == "rag"),
        "per_chat_mib": (peak - at_rest) / chats,
        "completed": len(completed),
        "cached": sum(1 for t in turns if t.final.get("cached")),
        "all_in_flight_s": overlap_end - overlap_start,
        "wall_s_median": median([t.total_s for t in turns]),
        "wall_s_max": max(t.total_s for t in turns),
        "warmup_source": warm.source,
        "embed_ms_median": median([t.timings.get("embed", 0.0) for t in turns]),
        "embed_ms_max": max(t.timings.get("embed", 0.0) for t in turns),
        "pre_llm_ms_median": median([t.pre_llm_ms for t in turns]),
        "pre_llm_ms_max": max(t.pre_llm_ms for t in turns),
        "warmup_pre_llm_ms": warm.pre_llm_ms,
    }
    markdown = "\n\n".join(
        [
            f"`tutor-serve` (1 worker) over the sample-course index; scripted LLM {TOKENS} tokens "
            f"× {DELAY_MS:g} ms (ideal {TOKENS * DELAY_MS / 1000:.1f} s per answer); "
            f"{chats} WebSocket clients, one question each, sent together. RSS in MiB.",
            table(
                ["measure", "value"],
                [
                    ("RSS after startup (idle 3 s)", at_start),
                    ("RSS at rest after one warm-up answer", at_rest),
                    (f"peak RSS during {chats} chats (20 ms samples)", peak),
                    ("VmHWM (kernel high-water mark)", hwm),
                    ("RSS 3 s after the chats", after),
                    ("second burst of the same size: peak / 3 s after",
                     f"{raw['rss_peak2_mib']:.1f} / {after2:.1f}"),
                    ("second burst completed", f"{raw['completed2']}/{chats}"),
                    ("increment per chat (peak − rest) / chats", f"{raw['per_chat_mib']:.2f}"),
                    ("chats completed (RAG chat_response, chunks > 0)",
                     f"{len(completed)}/{chats}"),
                    ("answers served from cache", raw["cached"]),
                    ("time all chats were in flight together (s)", raw["all_in_flight_s"]),
                    ("wall per chat, median / max (s)",
                     f"{raw['wall_s_median']:.1f} / {raw['wall_s_max']:.1f}"),
                    ("server start to healthy (s)", startup_s),
                    ("pre-LLM laps, warm-up chat alone (ms)", raw["warmup_pre_llm_ms"]),
                    ("pre-LLM laps during the burst, median / max (ms)",
                     f"{raw['pre_llm_ms_median']:.0f} / {raw['pre_llm_ms_max']:.0f}"),
                    ("embed lap during the burst, median / max (ms)",
                     f"{raw['embed_ms_median']:.0f} / {raw['embed_ms_max']:.0f}"),
                ],
            ),
        ]
    )  # fmt: skip
    return Section(NAME, TITLE, markdown, raw)
