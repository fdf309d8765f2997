"""The sample courses, rendered by the project's own script and ingested under a bench prefix."""

from __future__ import annotations

import tempfile
from pathlib import Path

from app.core.config import Settings
from samples.render import SRC_DIR, render_all
from tests.support.ingest import ingest_paths

QUESTION_COURSE = "course_tik_01"


def ingest_samples(settings: Settings) -> int:
    """Render and ingest every sample course with the real pipeline; return the chunk count."""
    chunks = 0
    with tempfile.TemporaryDirectory(prefix="bench-samples-") as tmp:
        out = Path(tmp)
        render_all(SRC_DIR, out)
        for folder in sorted(p for p in out.iterdir() if p.is_dir()):
            chunks += sum(r.chunks for r in ingest_paths(settings, folder.name, [folder]))
    return chunks
