"""What one OCR worker process does with one page: render it, then read it with Tesseract.

Workers are processes rather than threads so the ingesting process keeps no OCR state of its own:
each worker renders with its own pdfium instance (pdfium is not thread-safe), sets pytesseract's
command (a module attribute in pytesseract) and runs Tesseract with one OpenMP thread per page.
Parallelism comes from running pages side by side; OpenMP threads inside each Tesseract only spin
against each other on a small machine (measured: 5x slower on a busy 2-core machine).

Tesseract runs with ``--psm 1`` (automatic page segmentation with orientation and script
detection), so upside-down and sideways pages are turned before they are read, and it measures
and corrects the skew of each text line itself.
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass

import pypdfium2 as pdfium
import pytesseract
from PIL import Image

TESSERACT_CONFIG = "--psm 1"  # layout analysis with orientation and script detection
WORKER_VERSION = "1"  # bump when rendering or text assembly changes what a page reads as
INK_LEVEL = 160  # grey level below which a pixel counts as ink
MIN_INK_SHARE = 0.0005  # a page with less ink than this is blank: nothing to read


@dataclass(frozen=True)
class PageJob:
    path: str
    password: str | None
    page: int  # physical, 1-based
    dpi: int
    languages: str
    timeout_seconds: float


@dataclass(frozen=True)
class PageOcr:
    """Tesseract's reading of one page."""

    page: int
    text: str
    confidence: float  # 0-1: Tesseract's word confidences, weighted by word length
    words: int
    blank: bool = False  # no ink on the rendered page: nothing was read
    seconds: float = 0.0
    error: str = ""  # the page could not be read (timeout, Tesseract error)
    cpu_seconds: float = 0.0  # rendering plus Tesseract's user and system time


def init_worker(tesseract_cmd: str) -> None:
    """Runs once in each worker process before its first page."""
    os.environ["OMP_THREAD_LIMIT"] = "1"
    pytesseract.pytesseract.tesseract_cmd = tesseract_cmd


def ready(pause_seconds: float) -> int:
    """A no-op job: the pause keeps each worker busy long enough that the next one starts."""
    time.sleep(pause_seconds)
    return os.getpid()


def render(path: str, password: str | None, page: int, dpi: int) -> Image.Image:
    """The page as a greyscale image at ``dpi`` (the page's own /Rotate applied)."""
    document = pdfium.PdfDocument(path, password=password)
    try:
        pdf_page = document[page - 1]
        try:
            bitmap = pdf_page.render(scale=dpi / 72, grayscale=True)
            image: Image.Image = bitmap.to_pil()
            return image
        finally:
            pdf_page.close()
    finally:
        document.close()


def is_blank(image: Image.Image) -> bool:
    histogram = image.convert("L").histogram()
    ink = sum(histogram[:INK_LEVEL])
    return ink < MIN_INK_SHARE * image.width * image.height


def page_text(data: dict[str, list[object]]) -> tuple[str, float, int]:
    """Text (lines kept, blank line between paragraphs), confidence and word count from TSV data."""
    paragraphs: dict[tuple[int, int], dict[int, list[str]]] = {}
    weighted = chars = 0.0
    words = 0
    for i, raw in enumerate(data["text"]):
        word = str(raw).strip()
        confidence = float(str(data["conf"][i]))
        if not word or confidence < 0:
            continue
        key = (int(str(data["block_num"][i])), int(str(data["par_num"][i])))
        line = int(str(data["line_num"][i]))
        paragraphs.setdefault(key, {}).setdefault(line, []).append(word)
        weighted += confidence * len(word)
        chars += len(word)
        words += 1
    text = "\n\n".join(
        "\n".join(" ".join(line) for line in lines.values()) for lines in paragraphs.values()
    )
    return text, (weighted / chars / 100.0 if chars else 0.0), words


def _cpu() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def ocr_page(job: PageJob) -> PageOcr:
    """Render and read one page; failures come back in ``error``, never raised."""
    started, cpu = time.perf_counter(), _cpu()
    try:
        image = render(job.path, job.password, job.page, job.dpi)
        if is_blank(image):
            return PageOcr(job.page, "", 0.0, 0, True, time.perf_counter() - started)
        data = pytesseract.image_to_data(
            image,
            lang=job.languages,
            config=f"{TESSERACT_CONFIG} --dpi {job.dpi}",
            output_type=pytesseract.Output.DICT,
            timeout=job.timeout_seconds,
        )
    except (pytesseract.TesseractError, pytesseract.TesseractNotFoundError) as exc:
        return _failed(job, started, f"Tesseract failed: {_short(exc)}")
    except RuntimeError as exc:  # pytesseract's timeout
        return _failed(job, started, f"{_short(exc)} after {job.timeout_seconds:g} s")
    except (pdfium.PdfiumError, OSError, ValueError) as exc:
        return _failed(job, started, f"cannot render: {_short(exc)}")
    text, confidence, words = page_text(data)
    seconds, cpu_seconds = time.perf_counter() - started, _cpu() - cpu
    return PageOcr(job.page, text, confidence, words, False, seconds, "", cpu_seconds)


def _failed(job: PageJob, started: float, reason: str) -> PageOcr:
    return PageOcr(job.page, "", 0.0, 0, seconds=time.perf_counter() - started, error=reason)


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]
