"""How long the dashboard's numbers take over many turns, on SQLite and PostgreSQL side by side.

Fills a fresh database with N synthetic turns over 30 days and 3 courses, then times
``TurnReports.report`` (what ``GET /api/stats`` runs) for one course and for all courses.

    .venv/bin/python -m bench.stats_report --turns 20000 100000
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.engine import create_engine, run_migrations
from app.db.reports import ReportQuery, TurnReports
from app.db.repository import STUDENTS, TURNS

POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
COURSES = ("course_a", "course_b", "course_c")
END = datetime(2026, 6, 30, tzinfo=UTC)


def _rows(n: int, rng: random.Random) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    sources = ("rag",) * 9 + ("not_covered",)
    for i in range(n):
        cached = rng.random() < 0.3
        rows.append(
            {
                "id": f"b{i:09d}",
                "chatroom_pk": None,
                "user_id": f"s{rng.randrange(500)}",
                "course_id": rng.choice(COURSES),
                "query": "q",
                "answer": "a",
                "sources": [],
                "cached": cached,
                "personalized": False,
                "response_source": "cache" if cached else rng.choice(sources),
                "model": rng.choice(("gpt-4o-mini", "gpt-4o-nano")),
                "input_tokens": rng.randrange(100, 900),
                "output_tokens": rng.randrange(20, 300),
                "total_tokens": 0,
                "cost_usd": rng.random() / 1000,
                "latency_ms": rng.lognormvariate(7, 0.6),
                "first_chunk_ms": rng.lognormvariate(6, 0.5),
                "status": "completed" if rng.random() < 0.97 else "failed",
                "language": "id",
                "created_at": END - timedelta(seconds=rng.randrange(30 * 86400)),
                "error_code": None,
            }
        )
    return rows


async def _fill(engine: AsyncEngine, n: int) -> None:
    rng = random.Random(7)
    async with engine.begin() as connection:
        await connection.execute(
            STUDENTS.insert(),
            [{"user_id": f"s{i}", "created_at": END, "updated_at": END} for i in range(500)],
        )
        rows = _rows(n, rng)
        for start in range(0, n, 5000):
            await connection.execute(TURNS.insert(), rows[start : start + 5000])


async def _time(engine: AsyncEngine, courses: frozenset[str] | None, repeats: int) -> float:
    reports = TurnReports(engine, 120.0)
    query = ReportQuery(END - timedelta(days=30), END + timedelta(days=1), courses)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        await reports.report(query)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


async def _measure(backend: str, n: int, repeats: int) -> tuple[float, float]:
    if backend == "sqlite":
        folder = Path(tempfile.mkdtemp())
        engine = create_engine(f"sqlite+aiosqlite:///{folder / 'bench.db'}", 120.0)
        schema = None
    else:
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        admin = create_engine(POSTGRES_URL, 30.0)
        async with admin.begin() as connection:
            await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        await admin.dispose()
        engine = create_engine(
            POSTGRES_URL, 120.0, connect_args={"server_settings": {"search_path": schema}}
        )
    try:
        await run_migrations(engine)
        await _fill(engine, n)
        one = await _time(engine, frozenset({"course_a"}), repeats)
        every = await _time(engine, None, repeats)
        return one, every
    finally:
        await engine.dispose()
        if schema is not None:
            admin = create_engine(POSTGRES_URL, 30.0)
            async with admin.begin() as connection:
                await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            await admin.dispose()


async def main(turns: list[int], repeats: int) -> None:
    print("| turns in 30 days | backend | one course (ms, median) | all courses (ms, median) |")
    print("|---:|---|---:|---:|")
    for n in turns:
        for backend in ("sqlite", "postgres"):
            one, every = await _measure(backend, n, repeats)
            print(f"| {n:,} | {backend} | {one:.0f} | {every:.0f} |", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.turns, args.repeats))
