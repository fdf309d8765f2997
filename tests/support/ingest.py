"""Ingest files the same way `tutor-ingest` does, from a test (sync, real Redis, local embeddings)."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import redis
from redisvl.index import SearchIndex

from app.core.config import Settings
from app.core.embeddings import build_embedding
from app.core.knowledge import KnowledgeKeys, build_vector_store, chunk_schema
from app.core.redis import sync_client
from ingest.catalog import course_from_paths
from ingest.ocr.reader import OcrOff, OcrReader, open_ocr
from ingest.pipeline import FileResult, Ingestor
from ingest.store import KnowledgeWriter


class SilentProgress:
    def start_file(self, label: str, pages: int) -> None: ...
    def advance_pages(self, pages: int) -> None: ...
    def end_file(self, result: FileResult) -> None: ...
    def start_ocr(self, pages: int) -> None: ...
    def advance_ocr(self, pages: int) -> None: ...


def writer_for(settings: Settings) -> tuple[KnowledgeWriter, redis.Redis]:
    client = sync_client(settings.redis_knowledge_url, settings.redis_timeout_seconds)
    store = build_vector_store(settings, client)
    index = SearchIndex(chunk_schema(settings), redis_client=client)
    return KnowledgeWriter(client, store, index, KnowledgeKeys.from_settings(settings)), client


def ingest_paths(
    settings: Settings,
    course_id: str,
    paths: list[Path],
    prune: bool = False,
    force: bool = False,
    ocr: bool = True,
    reader: OcrReader | OcrOff | None = None,
) -> list[FileResult]:
    """As `tutor-ingest --course <course_id> --path <paths>` (``ocr=False``: ``--no-ocr``);
    ``reader``: an OCR reader the caller keeps open across calls (as one CLI run does)."""
    writer, client = writer_for(settings)
    try:
        embedding = build_embedding(settings)
        owned = open_ocr(settings, enabled=ocr) if reader is None else nullcontext(reader)
        with owned as ocr_reader:
            ingestor = Ingestor(settings, writer, embedding, SilentProgress(), ocr_reader)
            course = course_from_paths(course_id, paths)
            return ingestor.ingest_course(course, prune=prune, force=force)
    finally:
        client.close()
