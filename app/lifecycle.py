"""Draining a worker before it stops: no new connections or questions, answers in flight finish.

An orchestrator calls ``GET /drain`` from inside the container (a Kubernetes ``preStop`` hook)
before it sends SIGTERM: ``/ready`` turns 503 so the proxy stops routing here, new sockets and
new questions are refused with ``SERVICE_UNAVAILABLE`` (clients reconnect and land on another
replica), and the call returns once this worker's answers have finished or the grace period ran
out. Only loopback callers may drain, so a request from outside can never take a replica down.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class Lifecycle:
    def __init__(self) -> None:
        self.draining = False

    async def drain(self, in_flight: Callable[[], int], grace_s: float) -> int:
        """Stop taking work; wait until ``in_flight()`` is 0 or ``grace_s`` passed. Returns how
        many answers were still running at the end."""
        self.draining = True
        deadline = time.monotonic() + grace_s
        while in_flight() > 0 and time.monotonic() < deadline:  # noqa: ASYNC110 (a count, polled)
            await asyncio.sleep(0.1)
        return in_flight()
