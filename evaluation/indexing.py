"""Put the eval courses into their own index, through the real ingestion pipeline.

The eval must measure what ``tutor-ingest`` produces (same parsing, cleaning, chunking and
embedding), so it drives ``ingest.pipeline.Ingestor`` rather than a copy of it. Everything lives
under a dedicated key prefix (``eval`` by default), never the server's ``tutor``, and re-runs skip
files whose content and pipeline version are unchanged, so only the first run pays for embedding.
"""

from __future__ import annotations

from typing import Any

from redisvl.index import SearchIndex
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from app.core.config import Settings, get_settings
from app.core.embeddings import build_embedding
from app.core.knowledge import KnowledgeKeys, build_vector_store, chunk_schema
from app.core.redis import ensure_search_module, sync_client
from ingest.catalog import Course
from ingest.cli import RichProgress, summary_table
from ingest.ocr.reader import open_ocr
from ingest.pipeline import FileResult, Ingestor
from ingest.store import KnowledgeWriter

DEFAULT_PREFIX = "eval"
SERVER_PREFIX = "tutor"


def eval_settings(prefix: str = DEFAULT_PREFIX, **overrides: Any) -> Settings:
    """The environment's settings (Redis URL, embedding model, ...) on the eval key prefix."""
    if prefix == SERVER_PREFIX:
        raise ValueError(f"refusing to evaluate under the server's key prefix {prefix!r}")
    return get_settings(key_prefix=prefix, **overrides)


def ensure_indexed(
    settings: Settings, courses: list[Course], console: Console | None = None
) -> list[FileResult]:
    """Ingest ``courses`` into ``settings``' index; unchanged files are skipped (idempotent).

    Blocking (embedding is CPU-bound); call it from a thread when an event loop is running.
    """
    console = console or Console(quiet=True)
    client = sync_client(settings.redis_knowledge_url, settings.redis_timeout_seconds)
    try:
        ensure_search_module(client, settings.redis_knowledge_url)
        writer = KnowledgeWriter(
            client,
            build_vector_store(settings, client),
            SearchIndex(chunk_schema(settings), redis_client=client),
            KnowledgeKeys.from_settings(settings),
        )
        embedding = build_embedding(settings)
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        results: list[FileResult] = []
        with (
            open_ocr(settings) as ocr,
            Progress(*columns, console=console, transient=True) as bar,
        ):
            progress = RichProgress(bar, sum(len(c.materials) for c in courses))
            ingestor = Ingestor(settings, writer, embedding, progress, ocr)
            for course in courses:
                results += ingestor.ingest_course(course)
        console.print(summary_table(results))
        failed = [r for r in results if r.status.is_failure]
        if failed:
            names = ", ".join(f"{r.course_id}/{r.filename}: {r.reason}" for r in failed)
            raise RuntimeError(f"eval courses failed to ingest: {names}")
        return results
    finally:
        client.close()
