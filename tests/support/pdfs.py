"""Small real PDFs made on the fly (fpdf2), for cases the shared corpus does not cover."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fpdf import FPDF


def make_pdf(path: Path, pages: list[str], header: str | None = None, footer: bool = True) -> Path:
    """One PDF page per text; optional running header and a "Page n" footer on every page."""
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=False)
    pdf.set_creation_date(datetime(2025, 1, 1, tzinfo=UTC))  # same bytes for the same content
    for number, text in enumerate(pages, 1):
        pdf.add_page()
        if header:
            pdf.set_font("Helvetica", size=8)
            pdf.set_xy(15, 8)
            pdf.cell(0, 5, header)
        pdf.set_font("Helvetica", size=11)
        pdf.set_xy(15, 20)
        pdf.multi_cell(180, 6, text)
        if footer:
            pdf.set_font("Helvetica", size=8)
            pdf.set_xy(15, 285)
            pdf.cell(0, 5, f"Page {number}")
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(path))
    return path
