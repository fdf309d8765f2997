"""Course files in, chunks with exact page metadata out: parse, clean, chunk, embed, write.

Embedding dominates the cost (the local model does a few chunks per second per core), so the
pipeline does everything else once per file and feeds the model in batches.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

from app.core.config import Settings
from app.core.knowledge import doc_id
from ingest.catalog import Course, Material
from ingest.chunking import chunk_page
from ingest.clean import clean_pages
from ingest.pdf import FileStatus, read_pdf
from ingest.store import FileRecord, KnowledgeWriter

CODE_VERSION = "4"  # bump when parsing, cleaning or chunking changes what gets stored


class Progress(Protocol):
    def start_file(self, label: str, pages: int) -> None: ...
    def advance_pages(self, pages: int) -> None: ...
    def end_file(self, result: FileResult) -> None: ...


@dataclass
class FileResult:
    course_id: str
    filename: str
    status: FileStatus
    action: str  # added | replaced | unchanged | removed | dry-run | failed
    reason: str = ""
    pages: int = 0
    chunks: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0
    skipped_pages: list[int] = field(default_factory=list)


@dataclass
class PlannedChunk:
    node_id: str
    text: str
    page: int
    page_label: str
    position: int
    chunk_type: str


def pipeline_version(settings: Settings) -> str:
    return f"{CODE_VERSION}-{settings.chunk_size_words}-{settings.chunk_overlap_words}"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def plan_chunks(
    course_id: str, material: Material, settings: Settings
) -> tuple[FileResult, list[PlannedChunk]]:
    """Parse and chunk one PDF (no embedding); failures come back as a result, never raised."""
    parsed = read_pdf(material.path, material.passwords)
    result = FileResult(
        course_id,
        material.filename,
        parsed.status,
        "failed",
        parsed.reason,
        pages=len(parsed.pages),
        skipped_pages=parsed.skipped_pages,
    )
    if parsed.status.is_failure:
        return result, []
    cleaned = clean_pages([page.text for page in parsed.pages])
    planned: list[PlannedChunk] = []
    for page, text in zip(parsed.pages, cleaned, strict=True):
        for chunk in chunk_page(text, settings.chunk_size_words, settings.chunk_overlap_words):
            node_id = f"{course_id}:{material.material_id}:{page.number}:{chunk.position}"
            planned.append(
                PlannedChunk(
                    node_id, chunk.text, page.number, page.label, chunk.position, chunk.chunk_type
                )
            )
    result.chunks = len(planned)
    return result, planned


def _batches(items: list[PlannedChunk], size: int) -> Iterator[list[PlannedChunk]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Ingestor:
    """Ingests courses into one embedding model's index, skipping what has not changed."""

    def __init__(
        self,
        settings: Settings,
        writer: KnowledgeWriter,
        embedding: BaseEmbedding,
        progress: Progress,
    ) -> None:
        self._settings = settings
        self._writer = writer
        self._embedding = embedding
        self._progress = progress
        self._version = pipeline_version(settings)

    def ingest_course(
        self, course: Course, prune: bool = False, force: bool = False
    ) -> list[FileResult]:
        records = self._writer.records(course.course_id)
        results = [
            self._ingest_file(course, m, records.get(m.filename), force) for m in course.materials
        ]
        if prune:
            present = {m.filename for m in course.materials}
            for filename in sorted(set(records) - present):
                removed = self._writer.delete_file(course.course_id, filename)
                results.append(
                    FileResult(
                        course.course_id,
                        filename,
                        FileStatus.OK,
                        "removed",
                        "file no longer in the course folder",
                        chunks=removed,
                    )
                )
        self._writer.update_version(course.course_id)
        modes = {m.material_id: m.answer_mode for m in course.materials if m.answer_mode}
        self._writer.save_answer_modes(course.course_id, course.answer_mode, modes)
        return results

    def _ingest_file(
        self, course: Course, material: Material, record: FileRecord | None, force: bool
    ) -> FileResult:
        started = time.perf_counter()
        sha = file_sha256(material.path)
        label = f"{course.course_id}/{material.filename}"
        if (
            not force
            and record is not None
            and record.sha256 == sha
            and record.pipeline == self._version
            and record.status == FileStatus.OK
        ):
            result = FileResult(
                course.course_id,
                material.filename,
                FileStatus.UNCHANGED,
                "unchanged",
                pages=record.pages,
                chunks=record.chunks,
            )
            self._progress.start_file(label, 0)
            self._progress.end_file(result)
            return result
        result, planned = plan_chunks(course.course_id, material, self._settings)
        self._progress.start_file(label, result.pages)
        if result.status.is_failure:
            if record is not None:  # the file changed into something unreadable: old text is stale
                self._writer.delete_file(course.course_id, material.filename)
        else:
            nodes = self._embed(course, material, planned, result)
            self._writer.replace_file(course.course_id, material.filename, nodes)
            result.action = "replaced" if record is not None else "added"
            self._writer.save_record(
                course.course_id,
                FileRecord(
                    material.filename,
                    material.material_id,
                    sha,
                    self._version,
                    FileStatus.OK.value,
                    result.pages,
                    result.chunks,
                    time.time(),
                ),
            )
        result.seconds = time.perf_counter() - started
        self._progress.end_file(result)
        return result

    def _embed(
        self, course: Course, material: Material, planned: list[PlannedChunk], result: FileResult
    ) -> list[TextNode]:
        nodes: list[TextNode] = []
        pages_done = 0
        source = RelatedNodeInfo(node_id=doc_id(course.course_id, material.filename))
        for batch in _batches(planned, self._settings.embedding_batch_size):
            t0 = time.perf_counter()
            vectors = self._embedding.get_text_embedding_batch([c.text for c in batch])
            result.embed_seconds += time.perf_counter() - t0
            for chunk, vector in zip(batch, vectors, strict=True):
                nodes.append(
                    TextNode(
                        id_=chunk.node_id,
                        text=chunk.text,
                        embedding=vector,
                        metadata=self._metadata(course, material, chunk),
                        relationships={NodeRelationship.SOURCE: source},
                    )
                )
            finished = len({c.page for c in planned[: len(nodes)]}) - (
                0 if len(nodes) == len(planned) else 1
            )
            self._progress.advance_pages(max(0, finished - pages_done))
            pages_done = max(pages_done, finished)
        self._progress.advance_pages(max(0, result.pages - pages_done))
        return nodes

    @staticmethod
    def _metadata(course: Course, material: Material, chunk: PlannedChunk) -> dict[str, str | int]:
        return {
            "course_id": course.course_id,
            "material_id": material.material_id,
            "filename": material.filename,
            "title": material.title,
            "page": chunk.page,
            "page_label": chunk.page_label,
            "position": chunk.position,
            "chunk_type": chunk.chunk_type,
        }
