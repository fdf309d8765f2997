"""What every benchmark shares: settings on a private key prefix, cleanup, statistics, tables."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis

from app.core.config import Settings
from app.core.knowledge import KnowledgeKeys
from tests.support.settings import isolated_settings

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6380/0")
PRE_LLM_LAPS = (
    "context", "embed", "scope", "curated", "cache", "translate", "retrieval", "postprocess",
    "prompt",
)  # fmt: skip


def new_prefix(tag: str) -> str:
    """A fresh ``bench…`` key prefix (never ``tutor``), unique per run."""
    return f"bench{tag}{uuid.uuid4().hex[:8]}"


def bench_settings(prefix: str, data_dir: Path, **overrides: Any) -> Settings:
    """The tests' isolated settings, quieter, and without the abuse limits (one client IP here)."""
    values: dict[str, Any] = {
        "log_level": "WARNING",
        "rate_limit_requests": 0,
        "rate_limit_ip_requests": 0,
        "ws_max_connections_per_user": 0,
        "ws_max_connections_per_ip": 0,
        "redis_knowledge_url": REDIS_URL,
        "redis_cache_url": REDIS_URL,
    }
    values.update(overrides)
    return isolated_settings(prefix, data_dir, **values)


def redis_command(client: redis.Redis, *args: str) -> Any:
    """``execute_command`` (untyped in redis-py) for the RediSearch commands redis-py lacks."""
    return client.execute_command(*args)  # type: ignore[no-untyped-call]


def drop_prefix(prefix: str, url: str = REDIS_URL) -> None:
    """Remove every key and search index created under ``prefix``."""
    if not prefix.startswith("bench"):
        raise ValueError(f"refusing to drop a non-bench prefix: {prefix!r}")
    client = redis.Redis.from_url(url)
    try:
        for raw in redis_command(client, "FT._LIST"):
            name = raw.decode() if isinstance(raw, bytes) else str(raw)
            if name.startswith(prefix):
                redis_command(client, "FT.DROPINDEX", name, "DD")
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
    finally:
        client.close()


def clear_answer_cache(settings: Settings, url: str = REDIS_URL) -> int:
    """Delete the semantic-cache entries (not the index), so the next question misses."""
    name = f"{settings.key_prefix}-answers-{KnowledgeKeys.from_settings(settings).slug}"
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{name}*:*", count=1000))
        if keys:
            client.delete(*keys)
        return len(keys)
    finally:
        client.close()


def pct(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linear interpolation; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A Markdown table; floats get 1 decimal unless already formatted."""

    def cell(value: object) -> str:
        return f"{value:.1f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def machine() -> str:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"{os.cpu_count()} cores ({cpu}), Linux {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def code_version() -> str:
    """The commit the app code came from (read-only git), ``+dirty`` if app/ or ingest/ differ."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        dirty = subprocess.run(
            [
                "git",
                "--no-optional-locks",
                "status",
                "--porcelain",
                "--",
                "app",
                "ingest",
                "indexes",
            ],
            cwd=ROOT,
            check=False,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return f"{head or 'unknown'}{'+dirty' if dirty else ''}"


@dataclass
class Section:
    """One benchmark's result: Markdown for the results file, raw numbers for JSON."""

    name: str
    title: str
    markdown: str
    raw: dict[str, Any] = field(default_factory=dict)
    started: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    load_before: str = field(default_factory=load_average)
    code: str = field(default_factory=code_version)
    seconds: float = 0.0

    def render(self, command: str) -> str:
        return "\n".join(
            [
                f"## {self.title}",
                "",
                f"- date: {self.started} (UTC); took {self.seconds:.0f} s",
                f"- command: `{command}`",
                f"- machine: {machine()}",
                f"- code: commit {self.code}",
                f"- load average (1/5/15 min) before: {self.load_before}; after: {load_average()}",
                "",
                self.markdown.strip(),
                "",
            ]
        )


def command_line() -> str:
    return " ".join([".venv/bin/python -m bench.run_all", *sys.argv[1:]])


class Timer:
    """``with Timer() as t: ...`` then ``t.seconds``."""

    def __enter__(self) -> Timer:
        self._start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._start
