"""Split a clean page into chunks that never cross the page, and classify each chunk.

A chunk is what a student is shown as a source, so it must point at exactly one page; its position
on the page (1, 2, ...) makes the protocol's "page with decimal precision" (``"12.2"``).

``chunk_type`` heuristic, first match wins:
- ``toc``: at least half of 4+ lines end in a dot leader and a page number (table of contents);
- ``index``: at least half of 5+ lines are "term, 12, 45" entries (a back-of-book index);
- ``code``: at least 40% of lines look like code (braces, ``;`` endings, ``def``/``if``/tags,
  assignments, leading line numbers);
- ``table``: at least 40% of lines have three or more cells (``|`` or runs of spaces) or are mostly
  numbers;
- ``list``: at least 40% of lines start with a bullet or an enumerator (``-``, ``1.``, ``a)``);
- ``definition``: a sentence defines a term ("... adalah ...", "yang dimaksud dengan",
  "merupakan", "is defined as", "refers to", "is a/an ...", "definisi");
- ``text`` otherwise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_BULLET = re.compile(r"^(?:[-•*▪◦●○■□➢✓✔>]|\(?[0-9]{1,2}[.)]|\(?[a-zA-Z][.)]|[ivx]{1,4}[.)])\s+\S")
_CODE = re.compile(
    r"[{};]\s*$|^\s*(?:def |class |import |from \S+ import|return\b|if .*:$|for .*:$|while .*:$"
    r"|print\(|#include|public |private |var |let |const |function\b|<\/?[a-zA-Z][^>]*>|\$\w+\s*=)"
    r"|^\s*\d{1,3}\s+\S.*[=(){}:;]|^\s*\w+\s*=\s*\S"
)
_TABLE_CELLS = re.compile(r"\s\|\s|\S {2,}\S")
_NUMERIC = re.compile(r"^[\d\s.,%:/+\-()]+$")
_DEFINITION = re.compile(
    r"\b(?:adalah|merupakan|yang dimaksud dengan|didefinisikan|disebut juga|definisi|"
    r"is defined as|refers to|is called|is an?\b|are called|means)\b",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"[.!?:;]$")
_TOC_LINE = re.compile(r"…\s*[\divxlc]{1,4}$")
_INDEX_LINE = re.compile(r"^[^\d]{2,80}?,\s*\d{1,4}(?:\s*[,–-]\s*\d{1,4})*$")
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
LONG_LINE_WORDS = 40


@dataclass(frozen=True)
class Chunk:
    text: str
    position: int  # 1-based position on its page
    chunk_type: str


def _share(lines: list[str], pattern: re.Pattern[str]) -> float:
    return sum(1 for line in lines if pattern.search(line)) / len(lines) if lines else 0.0


def classify(text: str) -> str:
    lines = [line for line in text.split("\n") if line.strip()]
    if not lines:
        return "text"
    if len(lines) >= 4 and _share(lines, _TOC_LINE) >= 0.5:
        return "toc"
    if len(lines) >= 5 and _share(lines, _INDEX_LINE) >= 0.5:
        return "index"
    if len(lines) >= 3 and _share(lines, _CODE) >= 0.4:
        return "code"
    table_like = sum(1 for ln in lines if len(_TABLE_CELLS.findall(ln)) >= 2 or _NUMERIC.match(ln))
    if len(lines) >= 3 and table_like / len(lines) >= 0.4:
        return "table"
    if len(lines) >= 2 and _share(lines, _BULLET) >= 0.4:
        return "list"
    if _DEFINITION.search(" ".join(lines[:6])):
        return "definition"
    return "text"


def _units(text: str) -> list[str]:
    """Lines grouped into blocks that end at a sentence end, a blank line or before a bullet."""
    units: list[str] = []
    current: list[str] = []
    for line in _sentence_lines(text):
        stripped = line.strip()
        if not stripped:
            if current:
                units.append("\n".join(current))
                current = []
            continue
        if current and _BULLET.match(stripped):
            units.append("\n".join(current))
            current = []
        current.append(stripped)
        if _SENTENCE_END.search(stripped) and sum(len(c.split()) for c in current) >= 12:
            units.append("\n".join(current))
            current = []
    if current:
        units.append("\n".join(current))
    return units


def _sentence_lines(text: str) -> list[str]:
    """Lines, with very long lines (whole paragraphs on one line) cut at sentence ends."""
    lines: list[str] = []
    for line in text.split("\n"):
        if len(line.split()) > LONG_LINE_WORDS:
            lines += _SENTENCE_SPLIT.split(line)
        else:
            lines.append(line)
    return lines


def _split_long(unit: str, size: int) -> list[str]:
    words = unit.split(" ")
    if len(unit.split()) <= size:
        return [unit]
    return [" ".join(words[i : i + size]) for i in range(0, len(words), size)]


def _carry(units: list[str], overlap_words: int) -> list[str]:
    """The end of a finished chunk that the next one repeats: whole blocks if they fit, else the
    last ``overlap_words`` words of the last block."""
    carry: list[str] = []
    carried = 0
    for previous in reversed(units):
        m = len(previous.split())
        if carried + m > overlap_words:
            break
        carry.insert(0, previous)
        carried += m
    if not carry and overlap_words > 0 and units:
        carry = [" ".join(units[-1].split()[-overlap_words:])]
    return carry


def chunk_page(text: str, size_words: int, overlap_words: int) -> list[Chunk]:
    """Pack a page's blocks into chunks of at most ``size_words``, overlapping by whole blocks."""
    units = [piece for unit in _units(text) for piece in _split_long(unit, size_words)]
    chunks: list[str] = []
    current: list[str] = []
    count = 0
    for unit in units:
        n = len(unit.split())
        if current and count + n > size_words:
            chunks.append("\n".join(current))
            current = _carry(current, overlap_words)
            count = sum(len(c.split()) for c in current)
        current.append(unit)
        count += n
    if current:
        chunks.append("\n".join(current))  # always holds at least one block not yet chunked
    return [
        Chunk(text=body, position=i + 1, chunk_type=classify(body))
        for i, body in enumerate(chunks)
        if body.strip()
    ]
