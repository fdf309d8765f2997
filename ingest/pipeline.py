"""Course files in, chunks with exact page metadata out: parse, OCR, clean, chunk, embed, write.

Embedding dominates the cost of text PDFs (the local model does a few chunks per second per core),
so the pipeline does everything else once per file and feeds the model in batches. Scanned pages
cost more (seconds each in Tesseract): they are read in parallel and cached (``ingest.ocr``).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

from app.core.config import Settings
from app.core.knowledge import doc_id
from ingest.catalog import Course, Material
from ingest.chunking import chunk_page
from ingest.clean import clean_pages
from ingest.ocr.engine import languages_for
from ingest.ocr.pages import OcrProgress, apply_ocr
from ingest.ocr.reader import OcrOff, OcrReader
from ingest.pdf import FileStatus, read_pdf
from ingest.store import FileRecord, KnowledgeWriter

CODE_VERSION = "5"  # bump when parsing, OCR, cleaning or chunking changes what gets stored


class Progress(OcrProgress, Protocol):
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
    ocr_pages: int = 0  # pages indexed from OCR
    ocr_read: int = 0  # pages Tesseract read in this run
    ocr_cached: int = 0  # pages whose OCR came from the cache
    ocr_seconds: float = 0.0
    low_confidence_pages: list[int] = field(default_factory=list)
    ocr_identity: str = ""  # the OCR set-up used, "pending" when OCR was needed but not run


@dataclass
class PlannedChunk:
    node_id: str
    text: str
    page: int
    page_label: str
    position: int
    chunk_type: str
    ocr_confidence: float | None = None  # set on chunks of pages read by OCR


def pipeline_version(settings: Settings) -> str:
    return f"{CODE_VERSION}-{settings.chunk_size_words}-{settings.chunk_overlap_words}"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def ocr_languages(course: Course, settings: Settings) -> str:
    return languages_for(course.ocr_languages, course.language, settings.ocr_languages)


def plan_chunks(
    course_id: str,
    material: Material,
    settings: Settings,
    ocr: OcrReader | OcrOff | None = None,
    languages: str | None = None,
    sha256: str | None = None,
    progress: OcrProgress | None = None,
) -> tuple[FileResult, list[PlannedChunk]]:
    """Parse (OCR where needed, when ``ocr`` is given) and chunk one PDF, without embedding;
    failures come back as a result, never raised."""
    parsed = read_pdf(material.path, material.passwords)
    outcome = None
    if ocr is not None:
        outcome = apply_ocr(
            parsed,
            ocr,
            sha256 or file_sha256(material.path),
            languages or settings.ocr_languages,
            settings.ocr_min_confidence,
            progress,
        )
    result = FileResult(
        course_id,
        material.filename,
        parsed.status,
        "failed",
        parsed.reason,
        pages=len(parsed.pages),
        skipped_pages=parsed.skipped_pages,
    )
    if outcome is not None:
        result.ocr_pages, result.ocr_read, result.ocr_cached = (
            outcome.indexed,
            outcome.read,
            outcome.cached,
        )
        result.ocr_seconds, result.ocr_identity = outcome.seconds, outcome.identity
        result.low_confidence_pages = [page for page, _ in outcome.low_confidence]
    if parsed.status.is_failure:
        return result, []
    cleaned = clean_pages([page.text for page in parsed.pages])
    planned: list[PlannedChunk] = []
    for page, text in zip(parsed.pages, cleaned, strict=True):
        for chunk in chunk_page(text, settings.chunk_size_words, settings.chunk_overlap_words):
            node_id = f"{course_id}:{material.material_id}:{page.number}:{chunk.position}"
            planned.append(
                PlannedChunk(
                    node_id,
                    chunk.text,
                    page.number,
                    page.label,
                    chunk.position,
                    chunk.chunk_type,
                    page.ocr_confidence,
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
        ocr: OcrReader | OcrOff | None = None,
    ) -> None:
        self._settings = settings
        self._writer = writer
        self._embedding = embedding
        self._progress = progress
        self._ocr = ocr or OcrOff("needs OCR (no OCR in this run)")
        self._version = pipeline_version(settings)

    def ingest_course(
        self, course: Course, prune: bool = False, force: bool = False
    ) -> list[FileResult]:
        records = self._writer.records(course.course_id)
        self._writer.save_course(course.course_id, course.title, course.language)
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
        languages = ocr_languages(course, self._settings)
        if (
            not force
            and record is not None
            and record.sha256 == sha
            and record.pipeline == self._version
            and record.status == FileStatus.OK
            and self._ocr_current(record, languages)
        ):
            described = replace(record, title=material.title, path=str(material.path.resolve()))
            if described != record:  # a new title in course.yaml, or the folder moved
                self._writer.save_record(course.course_id, described)
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
        self._progress.start_file(label, 0)
        result, planned = plan_chunks(
            course.course_id, material, self._settings, self._ocr, languages, sha, self._progress
        )
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
                    ocr=result.ocr_identity,
                    title=material.title,
                    path=str(material.path.resolve()),
                ),
            )
        result.seconds = time.perf_counter() - started
        self._progress.end_file(result)
        return result

    def _ocr_current(self, record: FileRecord, languages: str) -> bool:
        """False when OCR would now read the file's scanned pages differently (or at all)."""
        if not record.ocr or isinstance(self._ocr, OcrOff):
            return True  # no scanned pages, or no OCR now: what is stored is the best there is
        if self._ocr.unavailable(languages) is not None:
            return True
        return record.ocr == self._ocr.identity(languages)

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
    def _metadata(
        course: Course, material: Material, chunk: PlannedChunk
    ) -> dict[str, str | int | float]:
        metadata: dict[str, str | int | float] = {
            "course_id": course.course_id,
            "material_id": material.material_id,
            "filename": material.filename,
            "title": material.title,
            "page": chunk.page,
            "page_label": chunk.page_label,
            "position": chunk.position,
            "chunk_type": chunk.chunk_type,
        }
        if chunk.ocr_confidence is not None:
            # 1, not true: Redis hashes hold no booleans (the server maps it back to `ocr: true`)
            metadata["ocr"] = 1
            metadata["ocr_confidence"] = chunk.ocr_confidence
        return metadata
