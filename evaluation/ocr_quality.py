"""How well OCR read a page: character error rate against the page's known text.

CER = edit distance (insertions, deletions, substitutions) / length of the true text, after both
texts are NFKC-normalised and every run of whitespace is made one space: line breaks and column
gaps say nothing about whether the characters were read right.
"""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

from rapidfuzz.distance import Levenshtein


def normalize(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip()


def edits(hypothesis: str, truth: str) -> int:
    return int(Levenshtein.distance(normalize(hypothesis), normalize(truth)))


def cer(hypothesis: str, truth: str) -> float:
    reference = normalize(truth)
    return edits(hypothesis, truth) / max(1, len(reference))


def truth_pages(path: Path) -> dict[int, str]:
    """A scan's ``.truth.json``: ``{"pages": {"1": {"text": ...}, ...}}`` -> ``{1: text}``."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return {int(number): str(page["text"]) for number, page in data["pages"].items()}
