"""Turn pypdf's page text into clean text: what a reader sees, not how the PDF stored it.

Course PDFs carry running headers and footers (author names, course titles, "9/3/20XX Presentation
Title", page numbers) on every page. Left in, they make every chunk look alike to the embedding
model and push the right page down the ranking, so they are detected across the document and cut.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter

EDGE_LINES = 4  # headers/footers live in the first/last few lines of a page
MIN_BOILERPLATE_PAGES = 3
BOILERPLATE_SHARE = 0.4  # a line on at least this share of pages, at the page edge, is boilerplate

_GLYPH_TOKEN = re.compile(r"/G\d{1,5}|\(cid:\d+\)|/uni[0-9A-Fa-f]{4}|/g\d{1,5}")
_PRIVATE_USE = re.compile("[\ue000-\uf8ff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SPACES = re.compile(r"[ \u00a0\u2000-\u200b\u3000]+")
_HYPHEN_BREAK = re.compile(r"([^\W\d_]+)-\n([a-z]\w*)")
_DOT_LEADER = re.compile(r"(?:\s?\.){4,}|…{2,}")
_DIGITS = re.compile(r"\d+")
_ROMAN = re.compile(r"^[ivxlcdm]+$")
_PAGE_NUMBER_ONLY = re.compile(r"^(?:page|halaman|hal\.?)?\s*[#ivxlcdm]+(?:\s*(?:/|of|dari)\s*#)?$")


def meaningful_chars(text: str) -> int:
    """Letters and digits: a page with almost none has no real text layer."""
    return sum(1 for ch in text if ch.isalnum())


def is_garbage(text: str) -> bool:
    """A text layer made of glyph names (``/G49/G46``, ``(cid:12)``) instead of words."""
    glyphs = len(_GLYPH_TOKEN.findall(text))
    if glyphs == 0:
        return False
    words = len(re.findall(r"[^\W\d_]{2,}", _GLYPH_TOKEN.sub(" ", text)))
    return glyphs >= 20 and glyphs > words


def normalize(text: str) -> str:
    """Unicode, whitespace, bullets and hyphenation fixed; line structure kept."""
    text = unicodedata.normalize("NFKC", text)
    text = _PRIVATE_USE.sub("•", text)  # symbol-font bullets (U+F0FC and friends)
    text = text.replace("\t", " ").replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    text = _DOT_LEADER.sub(" … ", text)
    text = _SPACES.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    text = _HYPHEN_BREAK.sub(_join_hyphenated, text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _join_hyphenated(match: re.Match[str]) -> str:
    """``adip-\niscing`` → ``adipiscing``; reduplication (``contoh-\ncontoh``) keeps its hyphen."""
    left, right = match.group(1), match.group(2)
    if left.lower() == right.lower() or right.lower().startswith(left.lower()):
        return f"{left}-{right}"
    return f"{left}{right}"


def line_key(line: str) -> str:
    """A line with its numbers blanked, so "Page 4" and "Page 5" compare equal."""
    key = _DIGITS.sub("#", line.lower())
    key = re.sub(r"\s+", " ", key).strip()
    return "#" if _ROMAN.match(key) else key


def loose_key(key: str) -> str:
    """A line key with its number and symbol tokens dropped: a running footer OCR read as
    "NAME 6 |" on one page and "NAME" on another (a missed page number) is the same footer."""
    return " ".join(token for token in key.split() if any(ch.isalpha() for ch in token))


def _edge_keys(lines: list[str]) -> dict[int, str]:
    """Keys of the first and last few non-empty lines, by line index."""
    filled = [i for i, line in enumerate(lines) if line.strip()]
    edge = filled[:EDGE_LINES] + filled[-EDGE_LINES:]
    return {i: line_key(lines[i]) for i in edge}


def boilerplate_keys(pages: list[str]) -> set[str]:
    """Line keys that recur at the top or bottom of many pages."""
    counts: Counter[str] = Counter()
    for text in pages:
        keys = set(_edge_keys(text.split("\n")).values())
        counts.update(keys | {loose_key(key) for key in keys})
    threshold = max(MIN_BOILERPLATE_PAGES, math.ceil(BOILERPLATE_SHARE * len(pages)))
    return {key for key, n in counts.items() if n >= threshold and key}


def strip_boilerplate(text: str, keys: set[str]) -> str:
    """Drop recurring header/footer lines and bare page numbers from the page edges."""
    lines = text.split("\n")
    edges = _edge_keys(lines)
    drop = {
        i
        for i, key in edges.items()
        if key in keys or loose_key(key) in keys or _PAGE_NUMBER_ONLY.match(key)
    }
    kept = [line for i, line in enumerate(lines) if i not in drop]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()


def clean_pages(raw_pages: list[str]) -> list[str]:
    """Normalize every page, then strip what repeats across the document's page edges."""
    normalized = [normalize(text) for text in raw_pages]
    keys = boilerplate_keys(normalized) if len(normalized) >= MIN_BOILERPLATE_PAGES else set()
    return [strip_boilerplate(text, keys) for text in normalized]
