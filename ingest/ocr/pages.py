"""Fill the pages a PDF's text layer could not give with what OCR reads, and say what happened.

``read_pdf`` leaves pages without a usable text layer (none, glyph codes, unreadable) as skipped;
this module has them read by OCR, keeps the ones OCR is sure enough of (with their physical
number, their label and their confidence), and turns everything else into a reason a course admin
can act on: which pages need OCR and what to install, which pages were too unclear to trust.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from ingest.clean import is_garbage, meaningful_chars
from ingest.ocr.reader import OcrOff, OcrReader
from ingest.ocr.worker import PageOcr
from ingest.pdf import MIN_PAGE_CHARS, FileStatus, PageText, ParsedPdf


@dataclass
class OcrOutcome:
    """OCR's part in one file, for the summary and the file record."""

    # the OCR set-up the file's pages were read with; "pending" when pages still need OCR (none
    # here, or it failed); "" when nothing needed OCR or only blank pages did
    identity: str = ""
    read: int = 0  # pages Tesseract read in this run
    cached: int = 0  # pages served from the OCR cache
    indexed: int = 0  # OCR pages kept
    low_confidence: list[tuple[int, float]] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)
    seconds: float = 0.0


class OcrProgress(Protocol):
    """Progress of one file's OCR pages (the ingest progress bar implements it)."""

    def start_ocr(self, pages: int) -> None: ...
    def advance_ocr(self, pages: int) -> None: ...


def page_list(pages: list[int]) -> str:
    """``[1, 2, 3, 7]`` -> ``"1-3, 7"``."""
    spans: list[str] = []
    for page in sorted(pages):
        if spans and page == int(spans[-1].split("-")[-1]) + 1:
            spans[-1] = f"{spans[-1].split('-')[0]}-{page}"
        else:
            spans.append(str(page))
    return ", ".join(spans)


def _pages_word(pages: list[int]) -> str:
    return f"page{'s' if len(pages) > 1 else ''} {page_list(pages)}"


def apply_ocr(
    parsed: ParsedPdf,
    ocr: OcrReader | OcrOff,
    sha256: str,
    languages: str,
    min_confidence: float,
    progress: OcrProgress | None = None,
) -> OcrOutcome:
    """Read ``parsed``'s skipped pages by OCR and update its pages, status and reason in place."""
    outcome = OcrOutcome()
    candidates = list(parsed.skipped_pages)
    if parsed.status not in (FileStatus.OK, FileStatus.NEEDS_OCR, FileStatus.GARBAGE):
        return outcome
    if not candidates:
        return outcome
    off = ocr.reason if isinstance(ocr, OcrOff) else ocr.unavailable(languages)
    if off is not None:
        outcome.identity = "pending"
        _explain_without_ocr(parsed, candidates, off)
        return outcome
    assert isinstance(ocr, OcrReader)
    outcome.identity = ocr.identity(languages)
    if progress is not None:
        progress.start_ocr(len(candidates))
    run = ocr.read(
        parsed.path,
        sha256,
        parsed.password,
        candidates,
        languages,
        (lambda _page: progress.advance_ocr(1)) if progress is not None else None,
    )
    outcome.read, outcome.cached, outcome.seconds = run.read, run.cached, run.seconds
    kept, no_text = _sort_pages(parsed, run.results, min_confidence, outcome)
    parsed.pages = sorted([*parsed.pages, *kept], key=lambda page: page.number)
    parsed.skipped_pages = sorted(set(candidates) - {page.number for page in kept})
    _explain_with_ocr(parsed, outcome, no_text)
    if outcome.failed:
        outcome.identity = "pending"  # read those pages again next time
    elif not (outcome.indexed or outcome.low_confidence):
        outcome.identity = ""  # blank pages only: a new OCR set-up would find nothing either
    return outcome


def _sort_pages(
    parsed: ParsedPdf, results: dict[int, PageOcr], min_confidence: float, outcome: OcrOutcome
) -> tuple[list[PageText], list[int]]:
    kept: list[PageText] = []
    no_text: list[int] = []
    for number in sorted(results):
        result = results[number]
        if result.error:
            outcome.failed.append((number, result.error))
        elif result.blank or meaningful_chars(result.text) < MIN_PAGE_CHARS:
            no_text.append(number)
        elif result.confidence < min_confidence or is_garbage(result.text):
            outcome.low_confidence.append((number, result.confidence))
        else:
            label = parsed.labels[number - 1] if number <= len(parsed.labels) else str(number)
            kept.append(PageText(number, label, result.text, round(result.confidence, 3)))
    outcome.indexed = len(kept)
    return kept, no_text


def _explain_without_ocr(parsed: ParsedPdf, candidates: list[int], reason: str) -> None:
    if parsed.pages:
        parsed.reason = f"{_pages_word(candidates)} of {parsed.page_count}: {reason}"
        return
    what = (
        "text layer is glyph codes"
        if parsed.status is FileStatus.GARBAGE
        else "no text layer (scanned?)"
    )
    parsed.status = FileStatus.NEEDS_OCR
    parsed.reason = f"{reason}; {what} on {len(candidates)} of {parsed.page_count} pages"


def _explain_with_ocr(parsed: ParsedPdf, outcome: OcrOutcome, no_text: list[int]) -> None:
    notes: list[str] = []
    if outcome.indexed:
        notes.append(f"OCR read {outcome.indexed} of {parsed.page_count} pages")
    if outcome.low_confidence:
        pages = [number for number, _ in outcome.low_confidence]
        worst = ", ".join(f"{c:.2f}" for _, c in outcome.low_confidence[:5])
        notes.append(
            f"{_pages_word(pages)} too unclear to trust (OCR confidence {worst}), not indexed"
        )
    if outcome.failed:
        pages = [number for number, _ in outcome.failed]
        notes.append(f"OCR failed on {_pages_word(pages)}: {outcome.failed[0][1]}")
    if no_text:
        notes.append(f"no text on {_pages_word(no_text)}")
    parsed.reason = "; ".join(notes)
    if parsed.pages:
        parsed.status = FileStatus.OK
    elif outcome.low_confidence:
        parsed.status = FileStatus.OCR_UNREADABLE
        parsed.reason += "; rescan at 300 dpi or more"
    elif outcome.failed:
        parsed.status = FileStatus.FAILED
    else:
        parsed.status = FileStatus.NO_TEXT
        parsed.reason = (
            f"no text on any of {parsed.page_count} pages, neither a text layer nor by OCR"
        )
