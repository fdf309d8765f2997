"""The text of every physical page of a course PDF, read the way ingestion reads it.

The eval sets name answers by physical page (pypdf index + 1), so every check of a label (is the
hint on that page? does a not-covered term occur anywhere in the course?) must see the same text
``ingest.pdf.read_pdf`` sees: ``PdfReader(path, strict=False)`` and ``extract_text()`` per page.
Extraction of the whole corpus takes seconds of CPU, so the pages can be cached on disk, keyed by
the file's content hash and the pypdf version (a new pypdf may extract differently).
"""

from __future__ import annotations

import hashlib
import json
import logging
import unicodedata
from pathlib import Path

import pypdf
from pypdf import PdfReader


def squash(text: str) -> str:
    """Case-folded, NFKC-normalised, every whitespace character dropped.

    Some files put TABs between words and Think Python loses spaces, so whitespace cannot be
    trusted when matching a phrase against a page.
    """
    return "".join(unicodedata.normalize("NFKC", text).casefold().split())


def extract_pages(path: Path) -> list[str]:
    """One string per physical page (empty when a page has no text layer)."""
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # it warns once per damaged object
    reader = PdfReader(path, strict=False)
    return [page.extract_text() or "" for page in reader.pages]


class PageTexts:
    """Pages of PDFs by path, extracted once per process and optionally cached on disk."""

    def __init__(self, cache_dir: Path | None = None) -> None:
        self._cache_dir = cache_dir
        self._raw: dict[Path, list[str]] = {}
        self._squashed: dict[Path, list[str]] = {}

    def raw(self, path: Path) -> list[str]:
        key = path.resolve()
        if key not in self._raw:
            self._raw[key] = self._load(key)
        return self._raw[key]

    def squashed(self, path: Path) -> list[str]:
        key = path.resolve()
        if key not in self._squashed:
            self._squashed[key] = [squash(page) for page in self.raw(key)]
        return self._squashed[key]

    def _load(self, path: Path) -> list[str]:
        if self._cache_dir is None:
            return extract_pages(path)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:24]
        cached = self._cache_dir / f"{digest}-pypdf{pypdf.__version__}.json"
        if cached.is_file():
            pages = json.loads(cached.read_text(encoding="utf-8"))
            if isinstance(pages, list) and all(isinstance(p, str) for p in pages):
                return pages
        pages = extract_pages(path)
        self._cache_dir.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps(pages, ensure_ascii=False), encoding="utf-8")
        return pages
