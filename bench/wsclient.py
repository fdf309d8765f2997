"""A timing WebSocket client: when a question left, its first chunk and its final frame came."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection

from bench.common import PRE_LLM_LAPS

Frame = dict[str, Any]


@dataclass
class TimedTurn:
    frames: list[Frame] = field(default_factory=list)
    first_chunk_s: float | None = None  # send -> first chat_chunk
    total_s: float = 0.0  # send -> chat_response (or error)

    @property
    def final(self) -> Frame:
        return self.frames[-1]

    @property
    def ok(self) -> bool:
        return self.final.get("type") == "chat_response"

    @property
    def chunks(self) -> int:
        return sum(1 for f in self.frames if f.get("type") == "chat_chunk")

    @property
    def source(self) -> str:
        return str(self.final.get("response_source", "error"))

    @property
    def timings(self) -> dict[str, float]:
        meta = self.final.get("metadata") or {}
        return dict(meta.get("timings_ms") or {})

    @property
    def pre_llm_ms(self) -> float:
        """Server time before the LLM was called: the laps before ``llm_first_token``."""
        laps = self.timings
        return sum(laps.get(name, 0.0) for name in PRE_LLM_LAPS)


async def timed_ask(
    ws: ClientConnection, query: str, limit_s: float = 120.0, **fields: Any
) -> TimedTurn:
    """One question (``fields``: more ``chat_request`` fields, e.g. a page context)."""
    turn = TimedTurn()
    started = time.perf_counter()
    await ws.send(json.dumps({"type": "chat_request", "query": query, **fields}))
    while True:
        async with asyncio.timeout(limit_s):
            raw = await ws.recv()
        now = time.perf_counter()
        frame: Frame = json.loads(raw)
        turn.frames.append(frame)
        kind = frame.get("type")
        if kind == "chat_chunk" and turn.first_chunk_s is None:
            turn.first_chunk_s = now - started
        if kind in ("chat_response", "error"):
            turn.total_s = now - started
            return turn
