"""Render the project's sample courses (``samples/courses/``) to PDF with fpdf2.

Why this exists: the README's first command ingests and serves a sample course, so
the repository ships the course *text* (our own writing, reviewable and diffable)
and this script turns it into module PDFs that look like the real thing and
exercise the ingestion code: a cover page, a running header and a page-number
footer on every content page (repeated lines the ingestion must strip), tables,
lists and code listings, a PDF outline, and -- where a module asks for it --
roman-numbered front matter stored as real ``/PageLabels``, so that the physical
page differs from the printed one. Metadata and dates are fixed, so re-rendering
with the same fpdf2 version gives byte-identical files.

Source layout: ``samples/courses/<course_id>/course.yaml`` plus one ``<stem>.md``
per ``materials[].file`` (``06_x.pdf`` <- ``06_x.md``). A source file starts with a
YAML front-matter block between ``---`` lines (``author`` is required;
``institution``, ``year`` and ``front_matter: roman`` are optional) followed by:
``#``/``##``/``###`` headings, paragraphs, ``- `` bullets, ``1. `` numbered items,
pipe tables (header row, ``|---|`` separator, rows), fenced code blocks,
``**bold**`` inline, and a line ``<!-- pagebreak -->`` that starts a new page.
A source page that does not fit on one PDF page is an error: the author, not
fpdf2, decides the pagination. Text must be encodable as windows-1252 (the
core PDF fonts), which covers Indonesian and English.

Usage (from the repository root)::

    python samples/render.py --out courses          # render every course
    python samples/render.py --out courses --check  # ... and print the page table
"""

from __future__ import annotations

import argparse
import re
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from fpdf import FPDF
from fpdf.fonts import FontFace

SRC_DIR = Path(__file__).resolve().parent / "courses"
PAGEBREAK = "<!-- pagebreak -->"
FIXED_DATE = datetime(2025, 1, 6, 8, 0, 0, tzinfo=UTC)  # deterministic /CreationDate
CREATOR = "course-tutor samples/render.py"
FONT, MONO = "Helvetica", "Courier"
BODY_PT, LINE_MM = 10.5, 5.2
WORDS = {
    "id": {
        "page": "Halaman",
        "toc": "Daftar Isi",
        "kind": "Bahan Ajar Mata Kuliah",
        "author": "Penyusun",
    },
    "en": {"page": "Page", "toc": "Contents", "kind": "Course Module", "author": "Author"},
}
_HEADING = re.compile(r"^(#{1,3})\s+(.*)$")
_NUMBERED = re.compile(r"^(\d+)\.\s+(.*)$")


@dataclass
class Block:
    """One block of source markup: a heading, paragraph, list, table or code listing."""

    kind: str  # h1 h2 h3 p ul ol table code
    lines: list[str] = field(default_factory=list)


@dataclass
class Module:
    """A parsed module source: front matter plus its pages of blocks."""

    meta: dict[str, Any]
    pages: list[list[Block]]


def _starts_block(s: str) -> bool:
    return s.startswith(("#", "|", "```", "- ")) or bool(_NUMBERED.match(s)) or s == PAGEBREAK


def _collect_items(lines: list[str], i: int, pattern: re.Pattern[str]) -> tuple[list[str], int]:
    """Collect list items starting at ``lines[i]``; indented lines continue an item."""
    items: list[str] = []
    while i < len(lines):
        raw, s = lines[i], lines[i].strip()
        m = pattern.match(s)
        if m:
            items.append(m.group(0))
        elif s and raw.startswith(" ") and items:
            items[-1] += " " + s
        else:
            break
        i += 1
    return items, i


def parse_blocks(text: str) -> list[Block]:
    """Split the markup of one source page into blocks."""
    lines, blocks, i = text.splitlines(), [], 0
    while i < len(lines):
        s = lines[i].strip()
        if not s:
            i += 1
        elif s.startswith("```"):
            j = i + 1
            while j < len(lines) and not lines[j].strip().startswith("```"):
                j += 1
            blocks.append(Block("code", lines[i + 1 : j]))
            i = j + 1
        elif m := _HEADING.match(s):
            blocks.append(Block(f"h{len(m.group(1))}", [m.group(2).strip()]))
            i += 1
        elif s.startswith("|"):
            j = i
            while j < len(lines) and lines[j].strip().startswith("|"):
                j += 1
            blocks.append(Block("table", [ln.strip() for ln in lines[i:j]]))
            i = j
        elif s.startswith("- "):
            items, i = _collect_items(lines, i, re.compile(r"^- (.*)$"))
            blocks.append(Block("ul", [it[2:] for it in items]))
        elif _NUMBERED.match(s):
            items, i = _collect_items(lines, i, _NUMBERED)
            blocks.append(Block("ol", items))
        else:
            para = [s]
            i += 1
            while i < len(lines) and lines[i].strip() and not _starts_block(lines[i].strip()):
                para.append(lines[i].strip())
                i += 1
            blocks.append(Block("p", [" ".join(para)]))
    return blocks


def parse_module(path: Path) -> Module:
    """Read a module source: front matter, then pages separated by the page-break marker."""
    text = path.read_text(encoding="utf-8")
    for lineno, line in enumerate(text.splitlines(), 1):
        try:
            line.encode("cp1252")
        except UnicodeEncodeError as exc:
            raise ValueError(f"{path}:{lineno}: not windows-1252: {line!r}") from exc
    lines = text.splitlines()
    if not lines or lines[0] != "---" or "---" not in lines[1:]:
        raise ValueError(f"{path}: missing front matter between '---' lines")
    end = lines.index("---", 1)
    meta = yaml.safe_load("\n".join(lines[1:end])) or {}
    body = "\n".join(lines[end + 1 :])
    if "author" not in meta:
        raise ValueError(f"{path}: front matter needs 'author'")
    pages = [parse_blocks(chunk) for chunk in body.split(PAGEBREAK)]
    return Module(meta, [p for p in pages if p])


def _strip_md(text: str) -> str:
    return text.replace("**", "")


class ModulePDF(FPDF):
    """FPDF with the running header and footer; pages with ``printed=None`` get neither."""

    def __init__(self, header_text: str, page_word: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.header_text, self.page_word = header_text, page_word
        self.printed: str | None = None
        self._next_printed: str | None = None
        self.core_fonts_encoding = "windows-1252"
        self.set_margins(22, 24, 22)
        self.set_auto_page_break(True, margin=22)

    def new_page(self, printed: str | None, **label: Any) -> None:
        """Start a page whose footer shows ``printed`` (``label`` = fpdf2 page-label args)."""
        self._next_printed = printed
        self.add_page(**label)

    def header(self) -> None:
        self.printed = self._next_printed
        if self.printed is None:
            return
        self.set_font(FONT, "", 8.5)
        self.set_text_color(90, 90, 90)
        self.set_xy(self.l_margin, 11)
        self.cell(0, 5, self.header_text, align="L")
        self.set_draw_color(150, 150, 150)
        self.line(self.l_margin, 17, self.w - self.r_margin, 17)
        self.set_text_color(0, 0, 0)
        self.set_y(self.t_margin)

    def footer(self) -> None:
        if self.printed is None:
            return
        self.set_draw_color(150, 150, 150)
        self.line(self.l_margin, self.h - 16, self.w - self.r_margin, self.h - 16)
        self.set_xy(self.l_margin, self.h - 14)
        self.set_font(FONT, "", 8.5)
        self.set_text_color(90, 90, 90)
        self.cell(0, 5, f"{self.page_word} {self.printed}", align="C")
        self.set_text_color(0, 0, 0)


def _heading(pdf: ModulePDF, level: int, text: str) -> None:
    size, before, after = {1: (15.0, 4.0, 3.0), 2: (12.5, 3.0, 1.5), 3: (11.0, 2.0, 1.0)}[level]
    if pdf.get_y() > pdf.t_margin + 1:
        pdf.ln(before)
    pdf.start_section(_strip_md(text), level=level - 1)
    pdf.set_font(FONT, "B", size)
    pdf.multi_cell(0, size * 0.5, _strip_md(text))
    pdf.ln(after)


def _items(pdf: ModulePDF, labels: list[str], texts: list[str]) -> None:
    indent = 7.0
    for label, text in zip(labels, texts, strict=True):
        pdf.set_x(pdf.l_margin + 2)
        pdf.cell(indent - 2, LINE_MM, label)
        pdf.multi_cell(pdf.epw - indent, LINE_MM, text, markdown=True)
        pdf.ln(0.8)
    pdf.ln(1.5)


def _table(pdf: ModulePDF, lines: list[str]) -> None:
    rows = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines]
    rows = [r for r in rows if not all(set(c) <= set("-: ") for c in r)]
    ncol = len(rows[0])
    # each column gets at least its longest word, the rest is shared by typical cell length
    pdf.set_font(FONT, "B", 9)
    least = [
        max(pdf.get_string_width(w) for r in rows for w in r[c].split() or [""]) + 4
        for c in range(ncol)
    ]
    pdf.set_font(FONT, "", 9)
    typical = [sum(pdf.get_string_width(r[c]) for r in rows) / len(rows) for c in range(ncol)]
    spare = max(pdf.epw - sum(least), 0.0)
    widths = [m + spare * t / sum(typical) for m, t in zip(least, typical, strict=True)]
    pdf.set_fill_color(246, 247, 250)
    with pdf.table(
        col_widths=tuple(widths),
        line_height=4.6,
        text_align="LEFT",
        padding=1.2,
        first_row_as_headings=True,
        cell_fill_mode="ROWS",
        cell_fill_color=(246, 247, 250),
        headings_style=FontFace(emphasis="BOLD", fill_color=(222, 230, 242)),
    ) as table:
        for row in rows:
            trow = table.row()
            for cell in row:
                trow.cell(cell)
    pdf.ln(3)


def _code(pdf: ModulePDF, lines: list[str]) -> None:
    pdf.set_font(MONO, "", 8.5)
    pdf.set_fill_color(238, 238, 238)
    pdf.multi_cell(0, 4.2, "\n".join(lines), fill=True, padding=2)
    pdf.ln(3)


def render_blocks(pdf: ModulePDF, blocks: list[Block]) -> None:
    """Draw one source page."""
    for b in blocks:
        if b.kind in ("h1", "h2", "h3"):
            _heading(pdf, int(b.kind[1]), b.lines[0])
            continue
        pdf.set_font(FONT, "", BODY_PT)
        if b.kind == "p":
            pdf.multi_cell(0, LINE_MM, b.lines[0], markdown=True)
            pdf.ln(2.2)
        elif b.kind == "ul":
            _items(pdf, ["\u2022"] * len(b.lines), b.lines)
        elif b.kind == "ol":
            pairs = [_NUMBERED.match(it) for it in b.lines]
            _items(pdf, [f"{m.group(1)}." for m in pairs if m], [m.group(2) for m in pairs if m])
        elif b.kind == "table":
            _table(pdf, b.lines)
        elif b.kind == "code":
            _code(pdf, b.lines)


def _cover(
    pdf: ModulePDF,
    course: dict[str, Any],
    material: dict[str, Any],
    meta: dict[str, Any],
    words: dict[str, str],
) -> None:
    pdf.set_fill_color(24, 64, 112)
    pdf.rect(0, 0, pdf.w, 95, style="F")
    pdf.set_text_color(255, 255, 255)
    pdf.set_xy(pdf.l_margin, 38)
    pdf.set_font(FONT, "", 12)
    pdf.cell(0, 7, words["kind"].upper())
    pdf.set_xy(pdf.l_margin, 50)
    pdf.set_font(FONT, "B", 20)
    pdf.multi_cell(0, 9, course["title"])
    pdf.set_text_color(0, 0, 0)
    pdf.set_xy(pdf.l_margin, 120)
    pdf.set_font(FONT, "B", 18)
    pdf.multi_cell(0, 9, material["title"])
    pdf.set_xy(pdf.l_margin, 200)
    pdf.set_font(FONT, "", 11)
    pdf.cell(0, 6, f"{words['author']}: {meta['author']}", new_x="LMARGIN", new_y="NEXT")
    for key in ("institution", "year"):
        if meta.get(key):
            pdf.cell(0, 6, str(meta[key]), new_x="LMARGIN", new_y="NEXT")


def _toc(pdf: ModulePDF, module: Module, words: dict[str, str], first_printed: int) -> None:
    pdf.start_section(words["toc"], level=0)
    pdf.set_font(FONT, "B", 15)
    pdf.cell(0, 8, words["toc"], new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    for n, page in enumerate(module.pages):
        for b in page:
            if b.kind not in ("h1", "h2"):
                continue
            level = int(b.kind[1])
            pdf.set_font(FONT, "B" if level == 1 else "", BODY_PT)
            indent = 0.0 if level == 1 else 7.0
            title, num = _strip_md(b.lines[0]), str(first_printed + n)
            room = pdf.epw - indent - pdf.get_string_width(f"{title}  {num}")
            dots = "." * max(3, int(room / pdf.get_string_width(".")))
            pdf.set_x(pdf.l_margin + indent)
            pdf.cell(pdf.epw - indent - 10, LINE_MM + 0.6, f"{title} {dots}")
            pdf.cell(10, LINE_MM + 0.6, num, align="R", new_x="LMARGIN", new_y="NEXT")


def render_module(
    course: dict[str, Any], material: dict[str, Any], source: Path, target: Path
) -> Path:
    """Render one module source to ``target`` (a PDF path) and return it."""
    module = parse_module(source)
    words = WORDS[course["language"]]
    pdf = ModulePDF(f"{course['title']} | {module.meta['author']}", words["page"])
    pdf.set_creation_date(FIXED_DATE)
    pdf.set_title(material["title"])
    pdf.set_subject(course["title"])
    pdf.set_author(module.meta["author"])
    pdf.set_creator(CREATOR)
    pdf.set_lang(course["language"])
    roman = module.meta.get("front_matter") == "roman"
    if roman:  # cover = i, contents = ii, body starts at 1
        pdf.new_page(None, label_style="r", label_start=1)
        _cover(pdf, course, material, module.meta, words)
        pdf.new_page("ii")
        _toc(pdf, module, words, first_printed=1)
        if pdf.page != 2:
            raise ValueError(f"{source}: the table of contents does not fit on one page")
    else:  # cover is physical page 1 (unnumbered), body printed numbers = physical
        pdf.new_page(None)
        _cover(pdf, course, material, module.meta, words)
    for n, blocks in enumerate(module.pages):
        printed = n + 1 if roman else pdf.page + 1
        label = {"label_style": "D", "label_start": 1} if roman and n == 0 else {}
        pdf.new_page(str(printed), **label)
        start = pdf.page
        render_blocks(pdf, blocks)
        if pdf.page != start:
            raise ValueError(f"{source}: source page {n + 1} does not fit on one PDF page")
    target.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(target))
    return target


def render_all(src: Path, out: Path) -> list[Path]:
    """Render every course under ``src`` into ``out/<course_id>/`` (PDFs + course.yaml)."""
    written: list[Path] = []
    for course_yaml in sorted(src.glob("*/course.yaml")):
        course = yaml.safe_load(course_yaml.read_text(encoding="utf-8"))
        dest = out / course["course_id"]
        dest.mkdir(parents=True, exist_ok=True)
        for material in course["materials"]:
            source = course_yaml.parent / Path(material["file"]).with_suffix(".md").name
            written.append(render_module(course, material, source, dest / material["file"]))
        shutil.copyfile(course_yaml, dest / "course.yaml")
    return written


def check(pdfs: list[Path]) -> None:
    """Print physical page -> page label -> first heading, and fail on an empty page."""
    from pypdf import PdfReader

    for path in pdfs:
        reader = PdfReader(path)
        first: dict[int, str] = {}
        stack: list[Any] = list(reader.outline)
        while stack:  # outline in document order, nested lists are children
            item = stack.pop(0)
            if isinstance(item, list):
                stack[:0] = item
                continue
            page_no = reader.get_destination_page_number(item)
            if page_no is not None:
                first.setdefault(page_no, str(item.title))
        print(f"\n{path}  ({len(reader.pages)} pages)")
        print(f"{'phys':>4}  {'label':<6} {'chars':>5}  first heading")
        for i, page in enumerate(reader.pages):
            text = page.extract_text() or ""
            if not text.strip():
                raise SystemExit(f"{path}: page {i + 1} has no extractable text")
            heading = first.get(i, "(cover)" if i == 0 else "(continued)")
            print(f"{i + 1:>4}  {reader.page_labels[i]:<6} {len(text):>5}  {heading}")


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--src", type=Path, default=SRC_DIR, help="sample course sources")
    parser.add_argument("--out", type=Path, default=Path("courses"), help="output directory")
    parser.add_argument("--check", action="store_true", help="print the page table (pypdf)")
    args = parser.parse_args()
    pdfs = render_all(args.src, args.out)
    for p in pdfs:
        print(f"wrote {p}")
    if args.check:
        check(pdfs)


if __name__ == "__main__":
    main()
