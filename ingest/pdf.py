"""Read a course PDF into one text per physical page, with the PDF's own page labels.

Real course files are messy: encrypted, scanned without OCR, with broken page trees, cut short, or
with text layers made of glyph codes. Each of those becomes a status with a reason a course admin
can act on, never an exception that stops the rest of the course.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from pypdf import PdfReader
from pypdf.errors import PdfReadError, PyPdfError

from ingest.clean import is_garbage, meaningful_chars

log = logging.getLogger(__name__)

MIN_PAGE_CHARS = 40  # fewer letters/digits than this and a page counts as having no text layer


class FileStatus(StrEnum):
    OK = "ok"
    UNCHANGED = "unchanged"
    ENCRYPTED = "encrypted"
    NEEDS_OCR = "needs_ocr"
    OCR_UNREADABLE = "ocr_unreadable"  # OCR ran, but too unsure of every page to index it
    NO_TEXT = "no_text"  # neither a text layer nor anything OCR could read (blank, pictures)
    GARBAGE = "garbage_text"
    BROKEN = "broken"
    FAILED = "failed"

    @property
    def is_failure(self) -> bool:
        return self not in (FileStatus.OK, FileStatus.UNCHANGED)


@dataclass(frozen=True)
class PageText:
    number: int  # physical, 1-based
    label: str  # the PDF's page label ("iv", "15", "A-3"); the number as text when none
    text: str
    ocr_confidence: float | None = None  # set when the text was read by OCR (0-1)

    @property
    def ocr(self) -> bool:
        return self.ocr_confidence is not None


@dataclass
class ParsedPdf:
    path: Path
    status: FileStatus
    reason: str = ""
    page_count: int = 0
    pages: list[PageText] = field(default_factory=list)
    skipped_pages: list[int] = field(default_factory=list)  # no text layer or glyph garbage
    labels: list[str] = field(default_factory=list)  # every page's label, by physical page - 1
    password: str | None = None  # the password that opened the file, if it is encrypted


def _open(
    path: Path, passwords: Sequence[str]
) -> tuple[PdfReader | None, ParsedPdf | None, str | None]:
    try:
        reader = PdfReader(path, strict=False)
    except (PdfReadError, PyPdfError, ValueError, OSError) as exc:
        return (
            None,
            ParsedPdf(
                path, FileStatus.BROKEN, f"cannot open: {_short(exc)} (truncated or corrupt file)"
            ),
            None,
        )
    if reader.is_encrypted:
        for password in ("", *passwords):
            try:
                if reader.decrypt(password):
                    return reader, None, password
            except (PdfReadError, PyPdfError, NotImplementedError) as exc:
                failure = ParsedPdf(path, FileStatus.ENCRYPTED, f"cannot decrypt: {_short(exc)}")
                return None, failure, None
        hint = (
            "the configured password was rejected"
            if passwords
            else "set its `password` in course.yaml"
        )
        failure = ParsedPdf(path, FileStatus.ENCRYPTED, f"encrypted with a user password; {hint}")
        return None, failure, None
    return reader, None, None


def _labels(reader: PdfReader, count: int) -> list[str]:
    try:
        labels = list(reader.page_labels)
    except (PdfReadError, PyPdfError, ValueError, KeyError, IndexError, TypeError) as exc:
        log.warning("page labels unreadable, using physical numbers: %s", _short(exc))
        labels = []
    if len(labels) != count:
        return [str(i + 1) for i in range(count)]
    return [label.strip() or str(i + 1) for i, label in enumerate(labels)]


def read_pdf(path: Path, passwords: Sequence[str] = ()) -> ParsedPdf:
    """Extract every page; the status says whether the file is usable and why not."""
    reader, failure, password = _open(path, passwords)
    if failure is not None or reader is None:
        return failure or ParsedPdf(path, FileStatus.BROKEN, "cannot open")
    try:
        count = len(reader.pages)
    except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return ParsedPdf(path, FileStatus.BROKEN, f"page tree unreadable: {_short(exc)}")
    labels = _labels(reader, count)
    parsed = ParsedPdf(path, FileStatus.OK, page_count=count, labels=labels, password=password)
    garbage_pages = 0
    for index in range(count):
        try:
            text = reader.pages[index].extract_text() or ""
        except Exception as exc:  # pypdf raises many types on damaged content streams
            log.warning("%s page %d unreadable: %s", path.name, index + 1, _short(exc))
            parsed.skipped_pages.append(index + 1)
            continue
        if meaningful_chars(text) < MIN_PAGE_CHARS:
            parsed.skipped_pages.append(index + 1)
            continue
        if is_garbage(text):
            garbage_pages += 1
            parsed.skipped_pages.append(index + 1)
            continue
        parsed.pages.append(PageText(index + 1, labels[index], text))
    if count == 0:
        parsed.status, parsed.reason = FileStatus.BROKEN, "the PDF has no pages"
    elif not parsed.pages and garbage_pages:
        parsed.status = FileStatus.GARBAGE
        parsed.reason = f"text layer is glyph codes on {garbage_pages}/{count} pages; needs OCR"
    elif not parsed.pages:
        parsed.status = FileStatus.NEEDS_OCR
        parsed.reason = f"no text layer on any of {count} pages (scanned?); needs OCR"
    elif parsed.skipped_pages:
        parsed.reason = f"{len(parsed.skipped_pages)} of {count} pages had no usable text"
    return parsed


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]
