"""`tutor-ingest`: load course PDFs into the Redis vector index, with a progress bar and a summary.

Exit codes: 0 all files usable, 1 some file failed (the rest is ingested), 2 nothing could be done
(bad arguments, no Redis Stack, unreadable course.yaml).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import redis
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from app.core.config import Settings, get_settings
from app.core.embeddings import build_embedding
from app.core.knowledge import KnowledgeKeys, build_vector_store, chunk_schema
from app.core.logging import configure_logging
from app.core.redis import SearchModuleMissingError, ensure_search_module, redact, sync_client
from ingest.catalog import CatalogError, Course, course_from_paths, discover, validate_course_id
from ingest.ocr.reader import OcrOff, OcrReader, open_ocr
from ingest.pipeline import FileResult, Ingestor, ocr_languages, plan_chunks
from ingest.reindex import reconcile
from ingest.store import KnowledgeWriter


class RichProgress:
    """Bars for files, pages of the file being embedded, and (when a file needs it) OCR pages."""

    def __init__(self, progress: Progress, total_files: int) -> None:
        self._progress = progress
        self._files = progress.add_task("files", total=total_files)
        self._pages = progress.add_task("pages", total=0)
        self._ocr = progress.add_task("OCR pages", total=0, visible=False)

    def start_file(self, label: str, pages: int) -> None:
        self._progress.update(self._pages, description=label[-48:], total=pages, completed=0)

    def advance_pages(self, pages: int) -> None:
        self._progress.advance(self._pages, pages)

    def start_ocr(self, pages: int) -> None:
        self._progress.update(self._ocr, total=pages, completed=0, visible=True)

    def advance_ocr(self, pages: int) -> None:
        self._progress.advance(self._ocr, pages)

    def end_file(self, result: FileResult) -> None:
        self._progress.advance(self._files, 1)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tutor-ingest", description="Ingest course PDFs into Redis."
    )
    parser.add_argument("--course", help="only this course (a folder name under --courses-dir)")
    parser.add_argument(
        "--path", nargs="+", type=Path, help="PDF files or a folder to ingest as --course"
    )
    parser.add_argument(
        "--courses-dir", type=Path, help="folder of course folders (default: COURSES_DIR)"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="parse and chunk only; write nothing"
    )
    parser.add_argument(
        "--prune", action="store_true", help="remove chunks of files no longer present"
    )
    parser.add_argument("--force", action="store_true", help="re-ingest files even if unchanged")
    parser.add_argument(
        "--no-ocr",
        action="store_true",
        help="do not OCR scanned pages (they are reported as needing OCR)",
    )
    parser.add_argument("--drop-course", metavar="COURSE_ID", help="remove a course from the index")
    return parser


def select_courses(args: argparse.Namespace, settings: Settings) -> list[Course]:
    if args.path:
        if not args.course:
            raise CatalogError("--path needs --course to name the course")
        return [course_from_paths(args.course, list(args.path))]
    courses = discover(args.courses_dir or settings.courses_dir)
    if args.course:
        wanted = validate_course_id(args.course)
        courses = [c for c in courses if c.course_id == wanted]
        if not courses:
            raise CatalogError(f"no course folder named {args.course!r}")
    return courses


def summary_table(results: list[FileResult]) -> Table:
    table = Table(title="Ingestion summary")
    columns = ("course", "file", "status", "action", "pages", "ocr", "chunks", "seconds", "reason")
    for column in columns:
        numeric = column in ("pages", "ocr", "chunks", "seconds")
        table.add_column(column, justify="right" if numeric else "left", overflow="fold")
    for r in results:
        style = "red" if r.status.is_failure else None
        table.add_row(
            r.course_id,
            r.filename,
            r.status.value,
            r.action,
            str(r.pages),
            _ocr_cell(r),
            str(r.chunks),
            f"{r.seconds:.1f}",
            r.reason,
            style=style,
        )
    return table


def _ocr_cell(result: FileResult) -> str:
    """Pages indexed from OCR, and how many OCR readings came from the cache."""
    if not (result.ocr_pages or result.ocr_read or result.ocr_cached):
        return ""
    cached = f" ({result.ocr_cached} cached)" if result.ocr_cached else ""
    return f"{result.ocr_pages}{cached}"


def _dry_run(
    courses: list[Course], settings: Settings, ocr: OcrReader | OcrOff
) -> list[FileResult]:
    results = []
    for course in courses:
        languages = ocr_languages(course, settings)
        for material in course.materials:
            result, _ = plan_chunks(course.course_id, material, settings, ocr, languages)
            result.action = "failed" if result.status.is_failure else "dry-run"
            results.append(result)
    return results


def run(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    courses = (
        []
        if args.drop_course and not args.course and not args.path
        else select_courses(args, settings)
    )
    if args.dry_run:
        with open_ocr(settings, enabled=not args.no_ocr) as ocr:
            planned = _dry_run(courses, settings, ocr)
        console.print(summary_table(planned))
        return 1 if any(r.status.is_failure for r in planned) else 0
    client = sync_client(settings.redis_knowledge_url, settings.redis_timeout_seconds)
    try:
        ensure_search_module(client, settings.redis_knowledge_url)
        rebuilt = reconcile(client, chunk_schema(settings))
        if rebuilt:
            console.print(f"index definition rebuilt for changed fields: {', '.join(rebuilt)}")
        store = build_vector_store(settings, client)
        from redisvl.index import SearchIndex

        writer = KnowledgeWriter(
            client,
            store,
            SearchIndex(chunk_schema(settings), redis_client=client),
            KnowledgeKeys.from_settings(settings),
        )
        if args.drop_course:
            removed = writer.drop_course(validate_course_id(args.drop_course))
            console.print(f"dropped course {args.drop_course}: {removed} chunks removed")
            if not courses:
                return 0
        embedding = build_embedding(settings)
        results: list[FileResult] = []
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with (
            open_ocr(settings, enabled=not args.no_ocr) as ocr,
            Progress(*columns, console=console) as bar,
        ):
            ingestor = Ingestor(
                settings,
                writer,
                embedding,
                RichProgress(bar, sum(len(c.materials) for c in courses)),
                ocr,
            )
            for course in courses:
                results += ingestor.ingest_course(course, prune=args.prune, force=args.force)
        console.print(summary_table(results))
        total = writer.chunk_count()
        console.print(f"index {store.index_name}: {total} chunks in all")
    finally:
        client.close()
    return 1 if any(r.status.is_failure for r in results) else 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console() if sys.stdout.isatty() else Console(width=200)
    try:
        settings = get_settings()
        configure_logging(settings)
        logging.getLogger("pypdf").setLevel(logging.ERROR)  # it warns per damaged object
        return run(args, settings, console)
    except (CatalogError, SearchModuleMissingError) as exc:
        console.print(f"[red]tutor-ingest:[/red] {exc}")
        return 2
    except redis.ConnectionError as exc:
        url = redact(get_settings().redis_knowledge_url)
        console.print(
            f"[red]tutor-ingest:[/red] cannot reach Redis at {url} ({exc}); run `make redis`"
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
