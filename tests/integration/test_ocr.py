"""Scanned course material through `tutor-ingest` and `/ws/stream`: real Tesseract, real Redis
Stack, real uvicorn, the shared realistic scan (grey, skewed, speckled, JPEG; its 4th page upside
down, its 5th sideways) and its true text.

OCR is the slow part (seconds a page), so the scan is read once for the module and every later
ingest of the same bytes is served from the module's OCR cache — which is itself under test.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.core.config import Settings
from evaluation.ocr_quality import cer, truth_pages
from ingest import cli
from ingest.ocr.reader import OcrReader, open_ocr
from ingest.pdf import FileStatus
from ingest.pipeline import FileResult
from tests.conftest import REDIS_URL, SettingsFactory, base_settings, drop_prefix
from tests.integration.test_ingest import stored
from tests.support.client import ask, connect
from tests.support.ingest import ingest_paths
from tests.support.scans import SCAN, SCAN_TRUTH, mixed_pdf
from tests.support.scripted_openai import ScriptedOpenAI

pytestmark = pytest.mark.integration

MAX_CER = 0.03


@dataclass
class ScanCourse:
    settings: Settings
    result: FileResult


@pytest.fixture(scope="module")
def ocr_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ocr-cache")


@pytest.fixture(scope="module")
def scan_course(ocr_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScanCourse]:
    """The scan ingested (and read by OCR) once, as course ``scan``, under its own prefix."""
    prefix = f"to{uuid.uuid4().hex[:10]}"
    settings = base_settings(
        prefix, tmp_path_factory.mktemp("scan-data"), ocr_cache_dir=ocr_cache, ocr_workers=2
    )
    [result] = ingest_paths(settings, "scan", [SCAN])
    yield ScanCourse(settings, result)
    drop_prefix(REDIS_URL, prefix)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return mixed_pdf(tmp_path_factory.mktemp("mixed"))


def by_page(
    settings: Settings, course_id: str, filename: str | None = None
) -> dict[int, list[dict[str, str]]]:
    pages: dict[int, list[dict[str, str]]] = {}
    for chunk in stored(settings, course_id).values():
        if filename is None or chunk["filename"] == filename:
            pages.setdefault(int(chunk["page"]), []).append(chunk)
    return pages


def test_every_scanned_page_is_indexed_with_its_page_number_label_and_confidence(
    scan_course: ScanCourse,
) -> None:
    result = scan_course.result
    assert (result.status, result.action) == (FileStatus.OK, "added")
    assert (result.pages, result.ocr_pages, result.ocr_read) == (6, 6, 6)
    assert result.low_confidence_pages == [] and result.skipped_pages == []
    pages = by_page(scan_course.settings, "scan")
    assert sorted(pages) == [1, 2, 3, 4, 5, 6]
    for number, chunks in pages.items():
        for chunk in chunks:
            assert chunk["page_label"] == str(number)  # the scan has no labels: as a text PDF
            assert chunk["ocr"] == "1" and 0.6 <= float(chunk["ocr_confidence"]) <= 1.0
            assert chunk["filename"] == SCAN.name and chunk["course_id"] == "scan"
    # the running header and footer are cut from OCR text as from a text layer
    assert not any("FABRIYAN" in c["text"] for chunks in pages.values() for c in chunks)


def test_ocr_reads_every_page_rotated_ones_included_within_3_percent_cer(
    scan_course: ScanCourse,
) -> None:
    truth = truth_pages(SCAN_TRUTH)
    reader = open_ocr(scan_course.settings)
    assert isinstance(reader, OcrReader)
    with reader:
        run = reader.read(SCAN, _sha(SCAN), None, sorted(truth), "ind+eng")
    assert run.read == 0 and run.cached == 6  # the ingest above cached them
    rates = {page: cer(run.results[page].text, truth[page]) for page in truth}
    total_edits = sum(rates[p] * len(" ".join(truth[p].split())) for p in truth)
    overall = total_edits / sum(len(" ".join(truth[p].split())) for p in truth)
    assert overall <= MAX_CER, rates
    assert all(rate <= MAX_CER for rate in rates.values()), rates
    assert "Microprosesor" in run.results[4].text  # upside down in the scan
    assert "kecerdasan buatan" in run.results[5].text  # sideways in the scan


def test_reingest_reads_nothing_again(
    scan_course: ScanCourse, make_settings: SettingsFactory
) -> None:
    again = ingest_paths(scan_course.settings, "scan", [SCAN])
    assert [(r.action, r.ocr_read) for r in again] == [("unchanged", 0)]
    forced = ingest_paths(scan_course.settings, "scan", [SCAN], force=True)
    assert [(r.action, r.ocr_pages, r.ocr_read) for r in forced] == [("replaced", 6, 0)]
    # a new index (another embedding model, a new pipeline version) reads the cache too
    fresh = make_settings(ocr_cache_dir=scan_course.settings.ocr_cache_dir)
    [result] = ingest_paths(fresh, "scan", [SCAN])
    assert (result.action, result.ocr_pages, result.ocr_read) == ("added", 6, 0)
    assert {k: v["text"] for k, v in stored(fresh, "scan").items()} == {
        k.replace(scan_course.settings.key_prefix, fresh.key_prefix, 1): v["text"]
        for k, v in stored(scan_course.settings, "scan").items()
    }


def test_a_text_pdf_gets_ocr_on_its_scanned_pages_only(
    mixed: Path, make_settings: SettingsFactory, ocr_cache: Path
) -> None:
    settings = make_settings(ocr_cache_dir=ocr_cache, ocr_workers=2)
    [result] = ingest_paths(settings, "mix", [mixed])
    assert (result.status, result.action) == (FileStatus.OK, "added")
    assert result.ocr_read == 2  # the two image pages; never the text pages
    assert (result.pages, result.ocr_pages, result.low_confidence_pages) == (3, 1, [4])
    assert "page 4 too unclear to trust" in result.reason
    pages = by_page(settings, "mix")
    assert sorted(pages) == [1, 2, 3]  # the unreadable page is reported, not indexed as garbage
    assert {c["page_label"] for c in pages[1]} == {"i"}
    assert {c["page_label"] for c in pages[2]} == {"1"}  # labels exactly as for text pages
    assert {c["page_label"] for c in pages[3]} == {"2"}
    assert all(c["ocr"] == "1" for c in pages[2])
    assert "Microprosesor" in " ".join(c["text"] for c in pages[2])
    assert not any("ocr" in c for c in pages[1] + pages[3])


def test_without_tesseract_scans_are_reported_and_picked_up_once_it_is_there(
    scan_course: ScanCourse, mixed: Path, make_settings: SettingsFactory, ocr_cache: Path
) -> None:
    missing = make_settings(ocr_cache_dir=ocr_cache, tesseract_cmd="/nonexistent/tesseract")
    scan, mix = ingest_paths(missing, "later", [SCAN, mixed])
    assert (scan.status, scan.action) == (FileStatus.NEEDS_OCR, "failed")
    assert scan.reason.startswith("needs OCR: install tesseract-ocr ")
    assert (mix.status, mix.action, mix.pages) == (FileStatus.OK, "added", 2)
    assert "pages 2, 4 of 4: needs OCR: install tesseract-ocr" in mix.reason
    assert sorted(by_page(missing, "later")) == [1, 3]  # the scan has nothing to index

    present = missing.model_copy(update={"tesseract_cmd": "tesseract"})
    scan, mix = ingest_paths(present, "later", [SCAN, mixed])
    assert (scan.action, scan.ocr_pages, scan.ocr_read) == ("added", 6, 0)  # cached above
    assert (mix.action, mix.ocr_pages) == ("replaced", 1)  # its pending page is read now
    assert sorted(by_page(present, "later", mixed.name)) == [1, 2, 3]
    assert sorted(by_page(present, "later", SCAN.name)) == [1, 2, 3, 4, 5, 6]
    third = ingest_paths(present, "later", [SCAN, mixed])
    assert [r.action for r in third] == ["unchanged", "unchanged"]


def test_cli_no_ocr_reports_the_scan_and_skips_it(
    make_settings: SettingsFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    settings = make_settings()
    for key, value in {
        "KEY_PREFIX": settings.key_prefix,
        "REDIS_KNOWLEDGE_URL": REDIS_URL,
        "EMBEDDING_PROVIDER": "local",
        "OPENAI_API_KEY": "",
        "DATA_DIR": str(tmp_path),
    }.items():
        monkeypatch.setenv(key, value)
    code = cli.main(["--no-ocr", "--course", "scan", "--path", str(SCAN)])
    out = capsys.readouterr().out
    assert code == 1
    assert "needs_ocr" in out and "--no-ocr" in out
    assert stored(settings, "scan") == {}
    assert not (tmp_path / "ocr-cache").exists()  # nothing was read


def test_cli_shows_ocr_pages_in_the_progress_bar_and_the_summary(
    scan_course: ScanCourse,
    make_settings: SettingsFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    ocr_cache: Path,
) -> None:
    settings = make_settings()
    for key, value in {
        "KEY_PREFIX": settings.key_prefix,
        "REDIS_KNOWLEDGE_URL": REDIS_URL,
        "EMBEDDING_PROVIDER": "local",
        "OPENAI_API_KEY": "",
        "OCR_CACHE_DIR": str(ocr_cache),
    }.items():
        monkeypatch.setenv(key, value)
    code = cli.main(["--course", "scan", "--path", str(SCAN)])
    out = capsys.readouterr().out
    assert code == 0
    assert re.search(r"OCR pages\s.*6/6", out)  # the progress bar's OCR line
    assert "6 (6 cached)" in out and "OCR read 6 of 6 pages" in out
    assert len(by_page(settings, "scan")) == 6


@pytest.mark.parametrize(
    ("question", "page", "phrase"),
    [
        ("Apa komponen dasar komputer generasi keempat?", 4, "Microprosesor"),
        ("komputer generasi kelima nanti didasarkan pada teknologi apa?", 5, "kecerdasan buatan"),
    ],
)
async def test_questions_on_scanned_pages_cite_those_pages_over_the_websocket(
    scan_course: ScanCourse,
    scripted_llm: ScriptedOpenAI,
    tmp_path: Path,
    question: str,
    page: int,
    phrase: str,
) -> None:
    from app.main import create_app
    from tests.support.live_server import live_server

    settings = base_settings(
        scan_course.settings.key_prefix,
        tmp_path,
        openai_api_base=scripted_llm.base_url,
        openai_model_comprehensive="gpt-4o-mini",
        openai_model_personalized="gpt-4o-nano",
        cache_enabled=False,
        rag_grounding="off",  # the scripted echo answer is not material: this is about sources
    )
    with live_server(create_app(settings)) as url:
        ws, _ = await connect(url, user_id="mahasiswa1", course_id="scan")
        async with ws:
            turn = await ask(ws, question)
    final = turn.final
    assert final["type"] == "chat_response" and final["response_source"] == "rag"
    top = final["sources"][0]
    meta = top["metadata"]
    assert (meta["filename"], meta["page_number"], meta["page_label"]) == (
        SCAN.name,
        page,
        str(page),
    )
    assert meta["ocr"] is True and 0.6 <= meta["ocr_confidence"] <= 1.0
    assert phrase in top["content"]
    assert phrase in scripted_llm.chat_requests[-1]["messages"][1]["content"]


def _sha(path: Path) -> str:
    from ingest.pipeline import file_sha256

    return file_sha256(path)
