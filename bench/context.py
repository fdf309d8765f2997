"""State shared by the benchmarks of one run: a scratch folder and the sample-course index."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core.config import Settings
from bench.common import bench_settings, drop_prefix, new_prefix
from bench.sample_index import ingest_samples


@dataclass
class Context:
    tmp: Path
    quick: bool = False
    _sample: str | None = None
    _dirs: itertools.count[int] = field(default_factory=itertools.count)
    sample_chunks: int = 0

    def data_dir(self, tag: str) -> Path:
        """A fresh folder (SQLite database, server logs) for one server instance."""
        path = self.tmp / f"{tag}-{next(self._dirs)}"
        path.mkdir(parents=True)
        return path

    @property
    def sample_prefix(self) -> str:
        """A bench prefix holding the sample courses (ingested once per run, on first use)."""
        if self._sample is None:
            prefix = new_prefix("s")
            self._sample = prefix
            self.sample_chunks = ingest_samples(bench_settings(prefix, self.data_dir("ingest")))
        return self._sample

    def settings(self, tag: str, **overrides: Any) -> Settings:
        """Settings for an app instance over the sample index, with its own data folder."""
        return bench_settings(self.sample_prefix, self.data_dir(tag), **overrides)

    def reps(self, full: int, quick: int) -> int:
        return quick if self.quick else full

    def close(self) -> None:
        if self._sample is not None:
            drop_prefix(self._sample)
            self._sample = None
