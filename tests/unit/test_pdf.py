"""PDF reading on the real course files in ../shared/corpus (no services needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.config import Settings
from ingest.catalog import Material
from ingest.clean import clean_pages
from ingest.pdf import FileStatus, read_pdf
from ingest.pipeline import plan_chunks
from tests.conftest import CORPUS
from tests.support.pdfs import make_pdf


def page(path: Path, number: int) -> tuple[str, str]:
    parsed = read_pdf(path)
    found = next(p for p in parsed.pages if p.number == number)
    return found.label, found.text


def test_custom_page_labels_are_kept_next_to_physical_numbers() -> None:
    parsed = read_pdf(CORPUS / "id_modul_algoritma_python_pagelabels.pdf")
    labels = {p.number: p.label for p in parsed.pages}
    assert parsed.page_count == 40
    assert labels[1] == "A" and labels[2] == "i" and labels[3] == "1" and labels[40] == "38"


def test_roman_front_matter_labels() -> None:
    parsed = read_pdf(CORPUS / "en_think_python_2e.pdf")
    labels = {p.number: p.label for p in parsed.pages}
    assert parsed.page_count == 288
    assert labels[35] == "15"
    assert labels[5] == "v" and labels[21] == "1"
    german = {
        p.number: p.label
        for p in read_pdf(CORPUS / "de_geotopo_lecture_notes_roman_labels.pdf").pages
    }
    assert german[1] == "i" and german[4] == "1"


def test_files_without_labels_use_physical_numbers() -> None:
    parsed = read_pdf(CORPUS / "id_modul_sistem_operasi.pdf")
    assert parsed.status is FileStatus.OK and parsed.page_count == 47
    assert all(p.label == str(p.number) for p in parsed.pages)


@pytest.mark.parametrize(
    ("name", "status", "reason"),
    [
        ("awk_encrypted_user_password.pdf", FileStatus.ENCRYPTED, "password"),
        ("awk_image_only_no_text_layer.pdf", FileStatus.NEEDS_OCR, "needs OCR"),
        ("awk_broken_invalid_pages_tree.pdf", FileStatus.BROKEN, "Invalid object in /Pages"),
        ("awk_truncated_60pct_csc258.pdf", FileStatus.BROKEN, "truncated or corrupt"),
    ],
)
def test_awkward_files_get_a_status_and_a_reason(
    name: str, status: FileStatus, reason: str
) -> None:
    parsed = read_pdf(CORPUS / name)
    assert parsed.status is status
    assert reason in parsed.reason
    assert parsed.pages == []


def test_encrypted_file_opens_with_its_password() -> None:
    parsed = read_pdf(CORPUS / "awk_encrypted_user_password.pdf", passwords=("openpassword",))
    assert parsed.status is FileStatus.OK and parsed.pages


def test_wrong_password_is_reported() -> None:
    parsed = read_pdf(CORPUS / "awk_encrypted_user_password.pdf", passwords=("nope",))
    assert parsed.status is FileStatus.ENCRYPTED and "rejected" in parsed.reason


def test_two_column_layout_is_dehyphenated() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    material = Material(CORPUS / "awk_two_column_lorem.pdf", "lorem", "Lorem")
    result, chunks = plan_chunks("c", material, settings)
    text = " ".join(c.text for c in chunks)
    assert result.status is FileStatus.OK and "adipiscing" in text and "adip-" not in text


def test_glyph_code_text_layer_is_reported_as_garbage(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "glyphs.pdf", ["/G49/G46/G47/G48/G52 " * 40] * 3)
    parsed = read_pdf(pdf)
    assert parsed.status is FileStatus.GARBAGE and "glyph" in parsed.reason


def test_chunks_never_cross_pages_and_carry_exact_page_metadata() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    material = Material(CORPUS / "id_modul_algoritma_python_pagelabels.pdf", "algo", "Algoritma")
    result, chunks = plan_chunks("algo", material, settings)
    parsed = read_pdf(material.path)
    by_number = {p.number: p for p in parsed.pages}
    assert result.chunks == len(chunks) > 30
    cleaned = dict(zip(by_number, clean_pages([p.text for p in parsed.pages]), strict=True))
    for chunk in chunks:
        assert chunk.page_label == by_number[chunk.page].label
        assert chunk.node_id == f"algo:algo:{chunk.page}:{chunk.position}"
        # the whole chunk is text of its own page
        assert " ".join(chunk.text.split()) in " ".join(cleaned[chunk.page].split())
    assert {c.page_label for c in chunks if c.page == 3} == {"1"}
