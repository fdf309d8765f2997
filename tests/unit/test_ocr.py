"""OCR's decisions without a server: languages, install hints, cache keys, page text, reasons."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from app.core.config import Settings
from ingest.catalog import load_course
from ingest.ocr.cache import OcrCache
from ingest.ocr.engine import OcrUnavailable, Tesseract, detect, install_hint, languages_for
from ingest.ocr.pages import apply_ocr, page_list
from ingest.ocr.reader import OcrOff, open_ocr
from ingest.ocr.worker import PageOcr, is_blank, page_text
from ingest.pdf import FileStatus, read_pdf
from ops.system_packages import GROUPS
from tests.support.scans import CORPUS, SCAN


def test_course_languages_come_from_course_yaml_then_its_language_then_the_default(
    tmp_path: Path,
) -> None:
    assert languages_for("ind", "id", "eng") == "ind"
    assert languages_for("", "id", "eng") == "ind+eng"
    assert languages_for("", "en-GB", "ind+eng") == "eng"
    assert languages_for("", "", "ind+eng") == "ind+eng"
    assert languages_for("", "xx", "ind+eng") == "ind+eng"
    folder = tmp_path / "kursus"
    folder.mkdir()
    (folder / "course.yaml").write_text("language: de\nocr_languages: deu+eng\n")
    course = load_course(folder)
    assert (course.language, course.ocr_languages) == ("de", "deu+eng")


def test_missing_engine_and_languages_name_the_packages_to_install() -> None:
    ocr_group = next(g for g in GROUPS if g.name == "ocr")
    assert {"tesseract-ocr", "tesseract-ocr-osd", "tesseract-ocr-ind", "tesseract-ocr-eng"} <= set(
        ocr_group.packages
    )
    assert install_hint().startswith("install tesseract-ocr ")
    assert "tesseract-ocr-chi-sim tesseract-ocr-deu" in install_hint(["chi_sim", "deu"])
    engine = Tesseract("tesseract", "5.3.0", frozenset({"eng", "ind"}))
    assert engine.missing("ind+eng") == ["osd"]  # orientation detection is needed too
    with pytest.raises(OcrUnavailable, match=r"needs OCR: install tesseract-ocr .*no Tesseract"):
        detect("/nonexistent/tesseract")
    off = open_ocr(Settings(_env_file=None, tesseract_cmd="/nonexistent/tesseract"))  # type: ignore[call-arg]
    assert isinstance(off, OcrOff) and off.reason.startswith("needs OCR: install tesseract-ocr")
    assert open_ocr(Settings(_env_file=None), enabled=False) == OcrOff(  # type: ignore[call-arg]
        "needs OCR (skipped: --no-ocr)"
    )


def test_the_installed_tesseract_is_found_with_its_languages() -> None:
    engine = detect("tesseract")
    assert int(engine.version.split(".")[0]) >= 4
    assert engine.missing("ind+eng") == []


def test_cache_hits_only_the_same_file_page_and_setup(tmp_path: Path) -> None:
    cache = OcrCache(tmp_path)
    page = PageOcr(3, "Teks halaman tiga", 0.91, 3, seconds=4.2)
    cache.put("ab" * 32, "tesseract 5.3.0|ind+eng|200dpi|1", page)
    assert cache.get("ab" * 32, 3, "tesseract 5.3.0|ind+eng|200dpi|1") == page
    assert cache.get("ab" * 32, 3, "tesseract 5.3.0|ind+eng|300dpi|1") is None  # dpi changed
    assert cache.get("ab" * 32, 3, "tesseract 5.4.0|ind+eng|200dpi|1") is None  # engine changed
    assert cache.get("cd" * 32, 3, "tesseract 5.3.0|ind+eng|200dpi|1") is None  # other file
    assert cache.get("ab" * 32, 4, "tesseract 5.3.0|ind+eng|200dpi|1") is None  # other page
    cache.put("ab" * 32, "x", PageOcr(5, "", 0.0, 0, error="timeout"))
    assert cache.get("ab" * 32, 5, "x") is None  # failures are retried, never cached


def test_page_text_keeps_lines_and_paragraphs_and_weights_confidence_by_length() -> None:
    data: dict[str, list[object]] = {
        "text": ["", "Generasi", "Keempat", "Intel", "", "4004"],
        "conf": ["-1", "90", "80", "50", "-1", "100"],
        "block_num": [1, 1, 1, 1, 2, 2],
        "par_num": [0, 1, 1, 1, 1, 1],
        "line_num": [0, 1, 1, 2, 1, 1],
    }
    text, confidence, words = page_text(data)
    assert text == "Generasi Keempat\nIntel\n\n4004"
    assert words == 4
    assert confidence == pytest.approx((90 * 8 + 80 * 7 + 50 * 5 + 100 * 4) / 24 / 100)


def test_blank_pages_are_not_sent_to_tesseract() -> None:
    blank = Image.new("L", (400, 600), 250)
    assert is_blank(blank)
    blank.paste(0, (50, 50, 350, 120))
    assert not is_blank(blank)


def test_page_lists_are_compact() -> None:
    assert page_list([7, 1, 2, 3, 5]) == "1-3, 5, 7"
    assert page_list([4]) == "4"


def test_without_ocr_a_scan_needs_ocr_and_a_text_file_names_its_pages() -> None:
    off = OcrOff("needs OCR: install tesseract-ocr")
    scan = read_pdf(SCAN)
    outcome = apply_ocr(scan, off, "0" * 64, "ind+eng", 0.6)
    assert scan.status is FileStatus.NEEDS_OCR and outcome.identity == "pending"
    assert scan.reason.startswith("needs OCR: install tesseract-ocr")
    assert "on 6 of 6 pages" in scan.reason
    slides = read_pdf(CORPUS / "id_slides_sistem_basis_data.pdf")
    apply_ocr(slides, off, "0" * 64, "ind+eng", 0.6)
    assert slides.status is FileStatus.OK
    assert slides.reason.startswith("pages 2, 28 of 43: needs OCR")


def test_ocr_cache_dir_defaults_to_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    assert settings.resolved_ocr_cache_dir == tmp_path / "ocr-cache"
    other = Settings(_env_file=None, ocr_cache_dir=tmp_path / "c")  # type: ignore[call-arg]
    assert other.resolved_ocr_cache_dir == tmp_path / "c"


def test_scan_questions_are_answered_on_their_page_of_the_true_text() -> None:
    import json
    import re
    import unicodedata

    from evaluation.dataset import DATA_DIR, load_questions
    from evaluation.ocr_quality import truth_pages
    from tests.support.scans import SCAN_TRUTH

    def squash(text: str) -> str:
        return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text).lower())

    truth = truth_pages(SCAN_TRUTH)
    questions = load_questions("scan")
    rows = [json.loads(line) for line in (DATA_DIR / "scan_eval.jsonl").read_text().splitlines()]
    assert 15 <= len(questions) == len(rows) and {q.page for q in questions} == set(truth)
    assert {q.kind for q in questions} == {"keyword", "paraphrase", "cross_lingual"}
    for question, row in zip(questions, rows, strict=True):
        assert question.file == SCAN.name and question.page is not None
        assert squash(row["answer_hint"]) in squash(truth[question.page]), question.id


def test_a_page_that_times_out_is_reported_and_not_cached(tmp_path: Path) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, ocr_cache_dir=tmp_path, ocr_timeout_seconds=0.2, ocr_workers=2
    )
    reader = open_ocr(settings)
    assert not isinstance(reader, OcrOff)
    scan = read_pdf(SCAN)
    with reader:
        outcome = apply_ocr(scan, reader, "e" * 64, "ind+eng", settings.ocr_min_confidence)
    assert scan.status is FileStatus.FAILED and scan.pages == []
    assert [page for page, _ in outcome.failed] == [1, 2, 3, 4, 5, 6]
    assert scan.reason.startswith("OCR failed on pages 1-6: Tesseract process timeout")
    assert not list(tmp_path.rglob("*.json"))  # a failure is tried again next time
    assert outcome.identity == "pending"  # and the file record says so


def test_pictures_without_text_are_no_text_not_unreadable(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, ocr_cache_dir=tmp_path)  # type: ignore[call-arg]
    parsed = read_pdf(CORPUS / "awk_image_only_no_text_layer.pdf")
    with open_ocr(settings) as reader:
        assert not isinstance(reader, OcrOff)
        outcome = apply_ocr(parsed, reader, "f" * 64, "ind+eng", 0.6)
    assert parsed.status is FileStatus.NO_TEXT and parsed.pages == []
    assert (outcome.read, outcome.indexed, outcome.low_confidence) == (6, 0, [])
    assert outcome.identity == ""  # nothing a new OCR set-up could find


def test_workers_can_be_started_before_the_first_page(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, ocr_cache_dir=tmp_path, ocr_workers=2)  # type: ignore[call-arg]
    reader = open_ocr(settings)
    assert not isinstance(reader, OcrOff)
    with reader:
        assert reader.start() == 2  # two distinct worker processes
