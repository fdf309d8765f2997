"""(f) Scanned modules: OCR speed, OCR accuracy, ingest time and retrieval, scan vs text layer.

The shared scan is physical pages 5-10 of ``id_modul_pengantar_tik.pdf``, so every number has a
text-layer twin from the same pages:

* OCR pages/s with 1 and 2 workers (``OCR_WORKERS``), an empty cache each time, interleaved;
  the worker processes are started first and timed apart (under ``python -m bench.run_all`` each
  worker imports the whole harness, which a ``tutor-ingest`` run does not pay);
* why each Tesseract runs with one OpenMP thread: two pages read side by side by two Tesseract
  processes, with OpenMP's default threads and with ``OMP_THREAD_LIMIT=1``, wall and CPU time;
* character error rate and OCR confidence per page against the scan's ``.truth.json``;
* ingest time of the scan (OCR cold, then OCR from the cache) next to the same six pages cut from
  the original with their text layer;
* retrieval eval (``evaluation/data/scan_eval.jsonl``, dense, as the server retrieves) over the
  whole 80-page module as text, and over the same module with pages 5-10 replaced by the scan.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import resource
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from pypdf import PdfReader, PdfWriter

from app.core.config import Settings
from bench.common import Section, bench_settings, drop_prefix, new_prefix, table
from bench.context import Context
from evaluation.dataset import load_questions
from evaluation.metrics import score
from evaluation.ocr_quality import cer, normalize, truth_pages
from evaluation.runner import QuestionRun, run_questions
from ingest.ocr.reader import OcrReader, OcrRun, open_ocr
from ingest.ocr.worker import render
from ingest.pipeline import FileResult, file_sha256
from tests.support.ingest import ingest_paths
from tests.support.scans import SCAN, SCAN_ORIGINAL, SCAN_TRUTH

NAME = "ocr"
TITLE = "(f) Scanned modules: OCR speed and accuracy, ingest time, retrieval vs the text layer"
FIRST, LAST = 5, 10  # the scan's pages in the original (physical, 1-based)
INGEST_COLUMNS = [
    "what", "pages", "OCR pages", "read by Tesseract", "chunks", "total s", "OCR s", "embed s",
]  # fmt: skip


def _cut(folder: Path, name: str, pages: list[tuple[PdfReader, int]]) -> Path:
    writer = PdfWriter()
    for reader, index in pages:
        writer.add_page(reader.pages[index])
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        writer.write(fh)
    return path


def _started_reader(settings: Settings) -> tuple[OcrReader, float]:
    reader = open_ocr(settings)
    assert isinstance(reader, OcrReader), reader
    started = time.perf_counter()
    reader.start()
    return reader, time.perf_counter() - started


def _read_scan(settings: Settings, workers: int, cache: Path) -> tuple[float, float, OcrRun]:
    reader, start_s = _started_reader(
        settings.model_copy(update={"ocr_workers": workers, "ocr_cache_dir": cache})
    )
    pages = list(range(1, LAST - FIRST + 2))
    with reader:
        started = time.perf_counter()
        run = reader.read(SCAN, file_sha256(SCAN), None, pages, "ind+eng")
        seconds = time.perf_counter() - started
    assert run.read == len(pages) and not any(r.error for r in run.results.values()), run
    return start_s, seconds, run


def _throughput(
    ctx: Context, settings: Settings
) -> tuple[dict[int, list[float]], dict[int, list[float]], OcrRun]:
    seconds: dict[int, list[float]] = {1: [], 2: []}
    starts: dict[int, list[float]] = {1: [], 2: []}
    last: OcrRun | None = None
    for rep in range(ctx.reps(3, 1)):
        for workers in (1, 2) if rep % 2 == 0 else (2, 1):
            start_s, took, last = _read_scan(settings, workers, ctx.data_dir(f"cache{workers}"))
            seconds[workers].append(took)
            starts[workers].append(start_s)
    assert last is not None
    return seconds, starts, last


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _openmp(ctx: Context, folder: Path) -> dict[str, list[tuple[float, float]]]:
    """Two pages read at once by two `tesseract` processes: (wall s, CPU s), per OpenMP set-up."""
    images = []
    for page in (2, 3):
        image = folder / f"page{page}.png"
        render(str(SCAN), None, page, 200).save(image)
        images.append(image)
    base = {k: v for k, v in os.environ.items() if k != "OMP_THREAD_LIMIT"}
    variants = {"OpenMP default": base, "OMP_THREAD_LIMIT=1": {**base, "OMP_THREAD_LIMIT": "1"}}
    out: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    for rep in range(ctx.reps(2, 1)):
        for name in list(variants) if rep % 2 == 0 else list(reversed(variants)):
            cpu, started = _children_cpu(), time.perf_counter()
            procs = [
                subprocess.Popen(
                    ["tesseract", str(image), "-", "-l", "ind+eng", "--psm", "1"],
                    env=variants[name],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for image in images
            ]
            assert all(proc.wait(timeout=600) == 0 for proc in procs)
            out[name].append((time.perf_counter() - started, _children_cpu() - cpu))
    return out


def _ingest(settings: Settings, reader: OcrReader, course_id: str, path: Path) -> FileResult:
    [result] = ingest_paths(settings, course_id, [path], reader=reader)
    assert result.action == "added", result
    return result


def _retrieval(settings: Settings, course_id: str, filename: str) -> list[QuestionRun]:
    questions = [
        dataclasses.replace(
            q,
            course_id=course_id,
            file=filename,
            page=(q.page or 0) + FIRST - 1,
            alt_pages=tuple(p + FIRST - 1 for p in q.alt_pages),
        )
        for q in load_questions("scan")
    ]
    runs, _ = asyncio.run(run_questions(settings, questions, ("dense",), (1, 3, 5), 10))
    return runs["dense"]


def run(ctx: Context) -> Section:
    prefix = new_prefix("o")
    settings = bench_settings(prefix, ctx.data_dir("ocr"), ocr_cache_dir=ctx.data_dir("cache"))
    original = PdfReader(SCAN_ORIGINAL)
    scan = PdfReader(SCAN)
    folder = ctx.data_dir("ocr-files")
    text_cut = _cut(folder / "cut", "id_modul_pengantar_tik_p5-10.pdf", [
        (original, i) for i in range(FIRST - 1, LAST)
    ])  # fmt: skip
    scanned_module = _cut(folder / "mixed", SCAN_ORIGINAL.name, [
        *[(original, i) for i in range(FIRST - 1)],
        *[(scan, i) for i in range(LAST - FIRST + 1)],
        *[(original, i) for i in range(LAST, len(original.pages))],
    ])  # fmt: skip
    try:
        openmp = _openmp(ctx, folder)
        seconds, starts, last = _throughput(ctx, settings)
        reader, _ = _started_reader(settings)  # one reader for every file, as in one CLI run
        with reader:
            ingests = [
                _ingest(settings, reader, "scan_cold", SCAN),
                _ingest(settings, reader, "scan_warm", SCAN),
                _ingest(settings, reader, "text_cut", text_cut),
                _ingest(settings, reader, "module_text", SCAN_ORIGINAL),
                _ingest(settings, reader, "module_scanned", scanned_module),
            ]
        text_runs = _retrieval(settings, "module_text", SCAN_ORIGINAL.name)
        scan_runs = _retrieval(settings, "module_scanned", scanned_module.name)
    finally:
        drop_prefix(prefix)
    return _section(openmp, seconds, starts, last, ingests, text_runs, scan_runs)


def _section(
    openmp: dict[str, list[tuple[float, float]]],
    seconds: dict[int, list[float]],
    starts: dict[int, list[float]],
    last: OcrRun,
    ingests: list[FileResult],
    text_runs: list[QuestionRun],
    scan_runs: list[QuestionRun],
) -> Section:
    pages = len(last.results)
    rate = {w: pages / statistics.median(s) for w, s in seconds.items()}
    truth = truth_pages(SCAN_TRUTH)
    per_page = []
    for number in sorted(truth):
        result = last.results[number]
        per_page.append(
            (number, number + FIRST - 1, f"{cer(result.text, truth[number]):.2%}",
             f"{result.confidence:.3f}", f"{result.seconds:.1f}", f"{result.cpu_seconds:.1f}")
        )  # fmt: skip
    openmp_rows = [
        (name, " / ".join(f"{w:.1f}" for w, _ in runs), " / ".join(f"{c:.1f}" for _, c in runs))
        for name, runs in openmp.items()
    ]
    edits = sum(cer(last.results[n].text, truth[n]) * len(normalize(truth[n])) for n in truth)
    overall = edits / sum(len(normalize(t)) for t in truth.values())
    labels = [
        "scan, 6 pages, OCR cold",
        "scan, 6 pages, OCR from the cache",
        "text layer, the same 6 pages",
        "whole module, 80 pages, text layer",
        "whole module with pages 5-10 scanned",
    ]
    ingest_rows = [
        (label, r.pages, r.ocr_pages, r.ocr_read, r.chunks, f"{r.seconds:.1f}",
         f"{r.ocr_seconds:.1f}", f"{r.embed_seconds:.1f}")
        for label, r in zip(labels, ingests, strict=True)
    ]  # fmt: skip
    text_score, scan_score = score(text_runs), score(scan_runs)
    retrieval_rows = [
        (name, s.n, f"{s.hit[1]:.2f}", f"{s.hit[3]:.2f}", f"{s.hit[5]:.2f}", f"{s.mrr:.3f}")
        for name, s in (("text layer", text_score), ("pages 5-10 scanned", scan_score))
    ]
    question_rows = [
        (t.question.id, t.question.kind, t.question.page, t.right_rank() or "–",
         s.right_rank() or "–")
        for t, s in zip(text_runs, scan_runs, strict=True)
    ]  # fmt: skip
    markdown = "\n\n".join(
        [
            f"OCR of the 6-page scan (Tesseract, `ind+eng`, 200 dpi, `--psm 1`): "
            f"**{rate[1]:.2f} pages/s with 1 worker, {rate[2]:.2f} with 2** "
            f"(median of {len(seconds[1])} runs each, "
            f"{', '.join(f'{s:.1f}' for s in seconds[1])} s and "
            f"{', '.join(f'{s:.1f}' for s in seconds[2])} s; speed-up "
            f"{rate[2] / rate[1]:.2f}×; starting the workers beforehand took "
            f"{statistics.median(starts[1]):.1f} s / {statistics.median(starts[2]):.1f} s, "
            "median). Character error rate over the 6 pages "
            f"**{overall:.2%}**; per page (from the last 2-worker run; s and CPU s are one "
            "worker's wall and CPU time on that page):",
            table(["scan page", "original page", "CER", "OCR confidence", "s", "CPU s"], per_page),
            "Two pages read at once by two `tesseract` processes (as two workers do), by OpenMP "
            "set-up (each run, interleaved):",
            table(["Tesseract threads", "wall s", "CPU s"], openmp_rows),
            "Ingest (`tutor-ingest` pipeline, `OCR_WORKERS=0` = one per core, local embeddings):",
            table(INGEST_COLUMNS, ingest_rows),
            f"Retrieval on the {text_score.n} questions of `evaluation/data/scan_eval.jsonl` "
            "(dense, as served; the right page is the scanned page's place in the module):",
            table(["module", "questions", "hit@1", "hit@3", "hit@5", "MRR@10"], retrieval_rows),
            "Rank of the right page per question (– = not in the top 10):",
            table(["question", "kind", "module page", "text layer", "scanned"], question_rows),
        ]
    )
    raw: dict[str, Any] = {
        "ocr_seconds": seconds,
        "worker_start_seconds": starts,
        "openmp": openmp,
        "pages_per_s": rate,
        "cer": overall,
        "per_page": per_page,
        "ingest": ingest_rows,
        "retrieval": {"text": text_score.as_dict(), "scanned": scan_score.as_dict()},
    }
    return Section(NAME, TITLE, markdown, raw)
