"""Where a turn's time goes, reported in ``metadata.timings_ms`` (ours, optional for clients)."""

from __future__ import annotations

import time


class Stopwatch:
    """Consecutive laps in milliseconds: each lap is the time since the previous one."""

    def __init__(self) -> None:
        self._last = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(self.laps.get(name, 0.0) + (now - self._last) * 1000, 2)
        self._last = now
