"""Read the pages of a PDF by OCR: from the cache when it can, else in parallel worker processes.

One :class:`OcrReader` serves a whole ingest run; its worker processes start with the first page
that is not cached and stop when the run ends. When OCR cannot run (no Tesseract, ``--no-ocr``,
``OCR_ENABLED=false``) ingestion gets an :class:`OcrOff` instead, whose reason goes into the
summary, and scanned pages are reported as needing OCR.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from app.core.config import Settings
from ingest.ocr.cache import OcrCache
from ingest.ocr.engine import OcrUnavailable, Tesseract, detect, install_hint
from ingest.ocr.worker import WORKER_VERSION, PageJob, PageOcr, init_worker, ocr_page, ready

PageDone = Callable[[PageOcr], None]


@dataclass
class OcrRun:
    """What reading one file's pages took."""

    results: dict[int, PageOcr] = field(default_factory=dict)
    read: int = 0  # pages Tesseract read in this run
    cached: int = 0  # pages served from the cache
    seconds: float = 0.0


@dataclass(frozen=True)
class OcrOff:
    """OCR does not run in this ingest run, and why (shown for every file that needs it)."""

    reason: str

    def __enter__(self) -> OcrOff:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class OcrReader:
    def __init__(
        self,
        engine: Tesseract,
        cache: OcrCache,
        dpi: int,
        workers: int,
        timeout_seconds: float,
    ) -> None:
        self._engine = engine
        self._cache = cache
        self._dpi = dpi
        self._workers = workers or os.cpu_count() or 1
        self._timeout = timeout_seconds
        self._pool: ProcessPoolExecutor | None = None

    @property
    def engine(self) -> Tesseract:
        return self._engine

    def identity(self, languages: str) -> str:
        """Everything that changes what OCR reads, for cache keys and file records."""
        return f"tesseract {self._engine.version}|{languages}|{self._dpi}dpi|{WORKER_VERSION}"

    def unavailable(self, languages: str) -> str | None:
        """Why ``languages`` cannot be read here (a language model is missing), or None."""
        missing = self._engine.missing(languages)
        if not missing:
            return None
        return f"needs OCR: {install_hint(missing)}; Tesseract has no {'+'.join(missing)} model"

    def read(
        self,
        path: Path,
        sha256: str,
        password: str | None,
        pages: Sequence[int],
        languages: str,
        on_page: PageDone | None = None,
    ) -> OcrRun:
        """Every page of ``pages`` read (or failed, with ``error`` set); blocking."""
        started = time.perf_counter()
        identity = self.identity(languages)
        run = OcrRun()
        todo: list[int] = []
        for page in pages:
            hit = self._cache.get(sha256, page, identity)
            if hit is None:
                todo.append(page)
                continue
            run.results[page] = hit
            run.cached += 1
            if on_page is not None:
                on_page(hit)
        jobs = [
            PageJob(str(path), password, page, self._dpi, languages, self._timeout) for page in todo
        ]
        for result in self._run(jobs):
            run.results[result.page] = result
            run.read += 1
            self._cache.put(sha256, identity, result)
            if on_page is not None:
                on_page(result)
        run.seconds = time.perf_counter() - started
        return run

    def start(self) -> int:
        """Start every worker process now rather than with the first page; return how many.

        Worker start-up costs a fraction of a second from a console script, but several seconds
        under ``python -m <module>`` when that module imports much (each worker imports it)."""
        pool = self._ensure_pool()
        pids = {f.result() for f in [pool.submit(ready, 0.2) for _ in range(self._workers)]}
        return len(pids)

    def _run(self, jobs: list[PageJob]) -> list[PageOcr]:
        if not jobs:
            return []
        pool = self._ensure_pool()
        futures: dict[Future[PageOcr], PageJob] = {pool.submit(ocr_page, job): job for job in jobs}
        waves = -(-len(jobs) // self._workers)  # pages each worker reads, at most
        done: list[PageOcr] = []
        try:
            for future in as_completed(futures, timeout=waves * (self._timeout + 30) + 60):
                done.append(self._outcome(future, futures[future]))
        except TimeoutError:
            self.close(wait=False)  # stuck workers go with the pool; the next file starts anew
            finished = {result.page for result in done}
            done += [
                PageOcr(job.page, "", 0.0, 0, error="OCR did not finish in time")
                for job in jobs
                if job.page not in finished
            ]
        return done

    def _outcome(self, future: Future[PageOcr], job: PageJob) -> PageOcr:
        try:
            return future.result()
        except BrokenProcessPool:  # a worker died (out of memory, a crash in the renderer)
            self.close(wait=False)  # the next file starts a new pool
            return PageOcr(job.page, "", 0.0, 0, error="the OCR worker process died")

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # forkserver: workers fork from a clean single-threaded server, not from this
            # process with its threads and clients
            self._pool = ProcessPoolExecutor(
                max_workers=self._workers,
                mp_context=multiprocessing.get_context("forkserver"),
                initializer=init_worker,
                initargs=(self._engine.command,),
            )
        return self._pool

    def close(self, wait: bool = True) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> OcrReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_ocr(settings: Settings, enabled: bool = True) -> OcrReader | OcrOff:
    """OCR for one ingest run, or the reason there is none; use it as a context manager."""
    if not enabled:
        return OcrOff("needs OCR (skipped: --no-ocr)")
    if not settings.ocr_enabled:
        return OcrOff("needs OCR (OCR_ENABLED=false)")
    try:
        engine = detect(settings.tesseract_cmd)
    except OcrUnavailable as exc:
        return OcrOff(str(exc))
    return OcrReader(
        engine,
        OcrCache(settings.resolved_ocr_cache_dir),
        settings.ocr_dpi,
        settings.ocr_workers,
        settings.ocr_timeout_seconds,
    )
