"""Prometheus metrics of the tutor, as one typed object the app passes to whoever records.

Each app gets its own registry (tests and benchmarks build several apps in one process). With
several uvicorn workers, prometheus-client's multiprocess mode is used: ``tutor-serve`` points
``PROMETHEUS_MULTIPROC_DIR`` at an emptied folder before the workers start, every worker writes
its samples there, and ``/metrics`` on any worker merges them all.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess

from app.protocol.messages import UsageItem

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST
# Seconds: from a cache hit (~10 ms) to a slow local model (tens of seconds).
FIRST_CHUNK_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60)
TURN_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300)


def multiprocess_dir() -> Path | None:
    value = os.environ.get(MULTIPROC_ENV)
    return Path(value) if value else None


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.ws_connections = Gauge(
            "tutor_ws_connections", "Open /ws/stream connections.", registry=r,
            multiprocess_mode="livesum",
        )  # fmt: skip
        self.turns = Counter(
            "tutor_turns", "Finished turns by course and where the answer came from "
            "(rag, cache, not_covered, failed, cancelled).", ["course", "source"], registry=r,
        )  # fmt: skip
        self.first_chunk = Histogram(
            "tutor_first_chunk_seconds", "From chat_request to the first chat_chunk.",
            buckets=FIRST_CHUNK_BUCKETS, registry=r,
        )  # fmt: skip
        self.turn_seconds = Histogram(
            "tutor_turn_seconds", "From chat_request to chat_response.",
            buckets=TURN_BUCKETS, registry=r,
        )  # fmt: skip
        self.tokens = Counter(
            "tutor_tokens", "LLM tokens by model and kind (input, output).",
            ["model", "kind"], registry=r,
        )  # fmt: skip
        self.cost = Counter("tutor_cost_usd", "LLM cost in USD by model.", ["model"], registry=r)
        self.errors = Counter(
            "tutor_errors", "Error frames sent, by error code.", ["code"], registry=r
        )
        self.resumes = Counter(
            "tutor_resumes",
            "`resume` requests by result (followed, refused).",
            ["result"],
            registry=r,
        )
        self.cache_lookups = Counter(
            "tutor_cache_lookups", "Semantic cache lookups by result (hit, miss, error).",
            ["result"], registry=r,
        )  # fmt: skip

    def turn_finished(
        self, course: str | None, source: str, seconds: float | None, usage: Sequence[UsageItem]
    ) -> None:
        """One finished turn: ``source`` is where the answer came from, or failed/cancelled;
        ``seconds`` only for answered turns."""
        self.turns.labels(course=course or "all", source=source).inc()
        if seconds is not None:
            self.turn_seconds.observe(seconds)
        for item in usage:
            self.tokens.labels(model=item.model, kind="input").inc(item.input_tokens)
            self.tokens.labels(model=item.model, kind="output").inc(item.output_tokens)
            if item.cost_usd:
                self.cost.labels(model=item.model).inc(item.cost_usd)

    def render(self) -> bytes:
        """The text exposition: this process's registry, or every worker's samples merged."""
        folder = multiprocess_dir()
        if folder is None:
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(merged, path=str(folder))  # type: ignore[no-untyped-call]
        return generate_latest(merged)

    @staticmethod
    def process_exited() -> None:
        """A worker going away: its live gauges stop counting."""
        if multiprocess_dir() is not None:
            prometheus_multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
