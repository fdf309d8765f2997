"""A small WebSocket test client for `/ws/stream` (the real `websockets` library over loopback)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import websockets
from websockets.asyncio.client import ClientConnection

Frame = dict[str, Any]


def stream_url(base: str, **params: str) -> str:
    return base.replace("http://", "ws://") + "/ws/stream?" + urlencode(params)


@dataclass
class Turn:
    """Every frame one chat_request produced, up to its chat_response or error."""

    frames: list[Frame] = field(default_factory=list)

    @property
    def types(self) -> list[str]:
        return [f["type"] for f in self.frames]

    @property
    def chunks(self) -> list[Frame]:
        return [f for f in self.frames if f["type"] == "chat_chunk"]

    @property
    def final(self) -> Frame:
        return self.frames[-1]


async def recv(ws: ClientConnection, timeout: float = 30.0) -> Frame:
    async with asyncio.timeout(timeout):
        raw = await ws.recv()
    frame: Frame = json.loads(raw)
    return frame


async def ask(ws: ClientConnection, query: str, timeout: float = 60.0, **fields: Any) -> Turn:
    await ws.send(json.dumps({"type": "chat_request", "query": query, **fields}))
    turn = Turn()
    while True:
        frame = await recv(ws, timeout)
        turn.frames.append(frame)
        if frame["type"] in ("chat_response", "error"):
            return turn


async def connect(base: str, **params: str) -> tuple[ClientConnection, Frame]:
    ws = await websockets.connect(stream_url(base, **params), open_timeout=10, max_size=2**22)
    return ws, await recv(ws)
