"""(g) Load: 1,000 open connections plus 100 concurrent chats, with one and with two workers.

``tutor-serve`` over the sample course; the scripted LLM (its own process) streams 300 tokens at
~100 tokens/s (10 ms before each). First 1,000 WebSocket clients connect and stay idle; then 100
more clients send one distinct question each at the same moment (every one misses the cache: its
threshold only matches exact repeats). Every chat is checked frame by frame: chunk indexes 1..N
with no gap, repeat or reordering, their text equal to the final ``response`` and ``chunks_count``
equal to N. Afterwards every idle connection must still answer a ping. RSS is the sum over the
server's process tree (parent and workers), sampled every 100 ms.

    make bench-load        # = .venv/bin/python -m bench.load
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import re
import resource
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from bench.common import Section, clear_answer_cache, pct, table
from bench.context import Context
from bench.llm_stub import llm_stub, model_name
from bench.questions import QUESTIONS
from bench.sample_index import QUESTION_COURSE
from bench.serverproc import MIB, TreeSampler, tutor_serve, wait_workers_ready
from bench.wsclient import TimedTurn, timed_ask
from tests.support.client import stream_url

NAME = "load"
TITLE = "(g) 1,000 connections + 100 concurrent chats, one and two workers"
IDLE, CHATS = 1000, 100
TOKENS, DELAY_MS = 300, 10.0
RSS_LIMIT_MIB = 512


def raise_file_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, 65536) if hard != resource.RLIM_INFINITY else 65536
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return wanted


def check_turn(turn: TimedTurn) -> dict[str, int]:
    """Lost, duplicated and out-of-order chunks of one chat (all 0 when it is intact)."""
    indexes = [f["chunk_index"] for f in turn.frames if f.get("type") == "chat_chunk"]
    texts = [f["chunk"] for f in turn.frames if f.get("type") == "chat_chunk"]
    final = turn.final
    expected = int(final.get("chunks_count", len(indexes))) if turn.ok else len(indexes)
    seen = Counter(indexes)
    out_of_order = sum(1 for a, b in itertools.pairwise(indexes) if b < a)
    duplicated = sum(count - 1 for count in seen.values() if count > 1)
    lost = len(set(range(1, expected + 1)) - set(indexes))
    if turn.ok and "".join(texts) != final.get("response"):
        lost += 1  # the text does not add up: count it as lost
    return {"lost": lost, "duplicated": duplicated, "out_of_order": out_of_order}


async def _open(base: str, count: int, tag: str) -> list[ClientConnection]:
    sockets: list[ClientConnection] = []
    for start in range(0, count, 50):  # 50 handshakes at a time
        batch = await asyncio.gather(
            *(
                websockets.connect(
                    stream_url(base, user_id=f"{tag}{i}", course_id=QUESTION_COURSE),
                    max_size=2**22, open_timeout=60, ping_interval=None,
                )
                for i in range(start, min(start + 50, count))
            )
        )  # fmt: skip
        for ws in batch:
            await ws.recv()
        sockets.extend(batch)
    return sockets


async def _ping_all(sockets: list[ClientConnection]) -> int:
    async def one(ws: ClientConnection) -> bool:
        try:
            await ws.send('{"type": "ping"}')
            async with asyncio.timeout(30):
                return '"pong"' in str(await ws.recv())
        except (OSError, TimeoutError, websockets.ConnectionClosed):
            return False

    answers = await asyncio.gather(*(one(ws) for ws in sockets))
    return sum(answers)


async def _round(base: str, rep: int) -> dict[str, Any]:
    opened = time.perf_counter()
    idle = await _open(base, IDLE, f"idle{rep}-")
    connect_s = time.perf_counter() - opened
    chatters = await _open(base, CHATS, f"chat{rep}-")
    start = asyncio.Event()

    async def chat(ws: ClientConnection, i: int) -> TimedTurn:
        await start.wait()
        question = f"{QUESTIONS[i % len(QUESTIONS)]} ({rep}-{i})"
        return await timed_ask(ws, question, limit_s=300)

    tasks = [asyncio.create_task(chat(ws, i)) for i, ws in enumerate(chatters)]
    await asyncio.sleep(0.5)
    start.set()
    turns = list(await asyncio.gather(*tasks))
    alive = await _ping_all(idle)
    await asyncio.gather(*(ws.close() for ws in idle + chatters))
    checks = [check_turn(t) for t in turns]
    errors = Counter(str(t.final.get("error_code")) for t in turns if not t.ok)
    firsts = [t.first_chunk_s * 1000 for t in turns if t.first_chunk_s is not None]
    walls = [t.total_s * 1000 for t in turns if t.ok]
    return {
        "connect_s": connect_s,
        "answered": sum(t.ok for t in turns),
        "cached": sum(bool(t.final.get("cached")) for t in turns),
        "errors": dict(errors),
        "lost": sum(c["lost"] for c in checks),
        "duplicated": sum(c["duplicated"] for c in checks),
        "out_of_order": sum(c["out_of_order"] for c in checks),
        "idle_alive": alive,
        "first_p50": pct(firsts, 50),
        "first_p95": pct(firsts, 95),
        "turn_p50": pct(walls, 50),
        "turn_p95": pct(walls, 95),
        "chunks_median": pct([float(len(t.frames) - 2) for t in turns], 50),
    }


def log_summary(path: Path, top: int = 6) -> dict[str, int]:
    """The server's WARNING/ERROR lines, grouped by logger and message start (why turns failed)."""
    counts: Counter[str] = Counter()
    for line in path.read_text(errors="replace").splitlines():
        for level in (" WARNING ", " ERROR "):
            if level in line:
                message = re.sub(r"[0-9a-f]{12,}", "<id>", line.split(level, 1)[1])
                counts[message[:90]] += 1
    return dict(counts.most_common(top))


def run(
    ctx: Context,
    workers_list: tuple[int, ...] = (1, 2),
    reps: int = 1,
    keep_log: Path | None = None,
    redis_timeout: float | None = None,
) -> Section:
    raise_file_limit()
    prefix = ctx.sample_prefix
    clear = ctx.settings("load-clear")
    results: list[dict[str, Any]] = []
    with llm_stub() as llm_url:
        for workers in workers_list:
            folder = ctx.data_dir(f"load-{workers}")
            with tutor_serve(
                prefix, llm_url, folder, model_name(TOKENS, DELAY_MS), WORKERS=str(workers),
                LOG_LEVEL="INFO", CACHE_DISTANCE_THRESHOLD="0.000001",
                WS_IDLE_TIMEOUT_SECONDS="3600", METRICS_DIR=str(folder / "metrics"),
                **({"REDIS_TIMEOUT_SECONDS": f"{redis_timeout:g}"} if redis_timeout else {}),
            ) as server:  # fmt: skip
                wait_workers_ready(server, workers)
                time.sleep(2.0)
                for rep in range(reps):
                    clear_answer_cache(clear)  # no answer of an earlier round may be reused
                    with TreeSampler(server.pid) as rss:
                        result = asyncio.run(_round(server.base, rep))
                    result.update(workers=workers, rep=rep + 1, rss_peak_mib=rss.peak_mib,
                                  rss_start_mib=rss.samples[0] / MIB,
                                  pss_peak_mib=rss.pss_peak_mib)  # fmt: skip
                    results.append(result)
            results[-1]["server_warnings"] = log_summary(server.log)
            if keep_log is not None:  # the temporary folder goes; the log is worth keeping
                shutil.copyfile(server.log, keep_log.with_suffix(f".{workers}w.log"))
    rows = [
        (
            r["workers"], r["rep"], f"{r['answered']}/{CHATS} ({r['cached']} cached)",
            ", ".join(f"{k}: {v}" for k, v in r["errors"].items()) or "none",
            f"{r['lost']} / {r['duplicated']} / {r['out_of_order']}",
            f"{r['idle_alive']}/{IDLE}", r["first_p50"], r["first_p95"], r["turn_p50"],
            r["turn_p95"], r["rss_start_mib"], r["rss_peak_mib"], r["pss_peak_mib"],
            "yes" if r["rss_peak_mib"] <= RSS_LIMIT_MIB else "**no**",
        )
        for r in results
    ]  # fmt: skip
    markdown = "\n\n".join(
        [
            f"`tutor-serve` over the sample course; scripted LLM {TOKENS} tokens × {DELAY_MS:g} ms "
            f"(~{1000 / DELAY_MS:.0f} tokens/s, ideal {TOKENS * DELAY_MS / 1000:.0f} s per "
            f"answer); {IDLE} idle connections, then {CHATS} more clients ask distinct "
            "questions at once. Times in ms, RSS of the whole server process tree in MiB.",
            table(
                ["workers", "round", "answered", "errors", "chunks lost / duplicated / "
                 "out of order", "idle sockets alive", "first chunk p50", "first chunk p95",
                 "turn p50", "turn p95", "RSS before", "RSS peak", "PSS peak",
                 f"RSS ≤ {RSS_LIMIT_MIB} MiB"],
                rows,
            ),
        ]
    )  # fmt: skip
    warnings = [
        f"- {r['workers']} worker(s): " + "; ".join(f"{n}× `{m}`" for m, n in r.get(
            "server_warnings", {}).items())
        for r in results if r.get("server_warnings")
    ]  # fmt: skip
    if warnings:
        markdown += "\n\nServer warnings (count × logger: message):\n\n" + "\n".join(warnings)
    return Section(NAME, TITLE, markdown, {"results": results})


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.load", description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--keep-log", type=Path, help="copy each server log to PATH.<N>w.log")
    parser.add_argument(
        "--redis-timeout",
        type=float,
        help="the server's REDIS_TIMEOUT_SECONDS (default: its own); "
        "a shorter one shows on a quiet machine what a starved one does to the default",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        ctx = Context(Path(tmp))
        try:
            section = run(ctx, tuple(args.workers), args.reps, args.keep_log, args.redis_timeout)
        finally:
            ctx.close()
    command = "make bench-load" if args.workers == [1, 2] and args.reps == 1 else (
        f".venv/bin/python -m bench.load --workers {' '.join(map(str, args.workers))} "
        f"--reps {args.reps}"
    )  # fmt: skip
    if args.redis_timeout:
        command += f" --redis-timeout {args.redis_timeout:g}"
    print(section.render(command), flush=True)


if __name__ == "__main__":
    main()
