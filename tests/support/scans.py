"""Scanned pages for OCR tests: the shared realistic scan, and PDFs built from it on the fly."""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont
from pypdf import PdfReader, PdfWriter
from pypdf.constants import PageLabelStyle

from tests.support.pdfs import make_pdf

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
SCAN = CORPUS / "scan_id_modul_pengantar_tik_p5-10.pdf"
SCAN_TRUTH = CORPUS / "scan_id_modul_pengantar_tik_p5-10.truth.json"
SCAN_ORIGINAL = CORPUS / "id_modul_pengantar_tik.pdf"  # the scan is its physical pages 5-10

TEXT_PAGES = [
    "Jaringan komputer menghubungkan perangkat agar dapat bertukar data dan sumber daya. " * 4,
    "Protokol TCP/IP mengatur cara paket dikirim, dialamatkan dan diterima kembali. " * 4,
]


def unreadable_scan(path: Path, seed: int = 7) -> Path:
    """A one-page 'scan' of text too blurred and coarse for OCR to be sure of (a real PDF)."""
    image = Image.new("L", (1654, 2339), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=34)
    words = TEXT_PAGES[0].split() * 6
    random.Random(seed).shuffle(words)
    for row in range(30):
        draw.text((170, 200 + 60 * row), " ".join(words[row * 9 : row * 9 + 9]), fill=0, font=font)
    coarse = image.resize((image.width // 7, image.height // 7), Image.Resampling.BILINEAR)
    image = coarse.resize(image.size, Image.Resampling.NEAREST).filter(ImageFilter.GaussianBlur(3))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, "PDF", resolution=200.0)
    return path


def mixed_pdf(folder: Path) -> Path:
    """A text PDF with scanned pages among its text pages, and page labels ``i, 1, 2, 3``.

    Physical pages: 1 text, 2 the scan's upside-down page (4), 3 text, 4 an unreadable scan.
    """
    text = make_pdf(folder / "parts" / "text.pdf", TEXT_PAGES)
    blurred = unreadable_scan(folder / "parts" / "blurred.pdf")
    scan = PdfReader(SCAN)
    writer = PdfWriter()
    writer.add_page(PdfReader(text).pages[0])
    writer.add_page(scan.pages[3])
    writer.add_page(PdfReader(text).pages[1])
    writer.add_page(PdfReader(blurred).pages[0])
    writer.set_page_label(0, 0, PageLabelStyle.LOWERCASE_ROMAN)
    writer.set_page_label(1, 3, PageLabelStyle.DECIMAL)
    writer.add_metadata({"/Title": "Jaringan komputer", "/CreationDate": "D:20250101000000Z"})
    path = folder / "modul_campuran.pdf"
    with path.open("wb") as fh:
        writer.write(fh)
    return path
