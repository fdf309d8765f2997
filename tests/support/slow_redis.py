"""A TCP proxy in front of a Redis server that holds every reply back for ``delay`` seconds: Redis
that is slow to answer, but up (a stopped one refuses the connection instead)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class SlowRedis:
    upstream_host: str
    upstream_port: int
    delay: float = 0.0
    port: int = 0
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def url(self, db: str) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, held: bool
    ) -> None:
        try:
            while data := await reader.read(65536):
                if held and self.delay > 0:
                    await asyncio.sleep(self.delay)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection(self.upstream_host, self.upstream_port)
        for task in (
            asyncio.create_task(self._pump(client_r, server_w, held=False)),
            asyncio.create_task(self._pump(server_r, client_w, held=True)),
        ):
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)


@contextlib.asynccontextmanager
async def slow_redis(url: str) -> AsyncIterator[tuple[SlowRedis, str]]:
    """The proxy, and ``url`` rewritten to go through it (same database)."""
    parts = urlsplit(url)
    proxy = SlowRedis(parts.hostname or "127.0.0.1", parts.port or 6379)
    server = await asyncio.start_server(proxy._serve, "127.0.0.1", 0)
    proxy.port = server.sockets[0].getsockname()[1]
    try:
        yield proxy, proxy.url(parts.path.lstrip("/") or "0")
    finally:
        server.close()
        for task in list(proxy._tasks):
            task.cancel()
        await asyncio.gather(*proxy._tasks, return_exceptions=True)
        await server.wait_closed()
