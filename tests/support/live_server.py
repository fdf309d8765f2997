"""Run an ASGI app under a real uvicorn (WebSockets included) in a background thread.

The app's lifespan, its Redis clients and its event loop all live in that thread, exactly as in
production; the test talks to it over loopback like any client.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp


@contextmanager
def live_server(
    app: ASGIApp, startup_timeout: float = 60.0, log_level: str = "warning"
) -> Iterator[str]:
    """Yield ``http://127.0.0.1:<port>`` while the app serves; stop it cleanly afterwards."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_level=log_level,
        lifespan="on",
        log_config=None,
        ws="websockets-sansio",
        ws_max_size=1 << 20,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=lambda: asyncio.run(server.serve()), name="live-server", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the server failed to start (see the log above)")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError("the server did not start in time")
        time.sleep(0.01)
    port = int(server.servers[0].sockets[0].getsockname()[1])
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
