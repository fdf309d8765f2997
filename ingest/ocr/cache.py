"""OCR results on disk, one small JSON file per file hash, page and OCR set-up.

Reading a scanned page costs seconds; re-ingesting (``--force``, a new pipeline version, a changed
chunk size) must not pay that again. The key holds everything that changes what Tesseract reads:
the file's content hash, the page, and the set-up identity (engine version, languages, dpi, the
worker's own version), so a changed set-up reads again instead of serving stale text.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path

from ingest.ocr.worker import PageOcr


class OcrCache:
    def __init__(self, folder: Path) -> None:
        self._folder = folder

    def _path(self, sha256: str, page: int, identity: str) -> Path:
        setup = hashlib.sha256(identity.encode()).hexdigest()[:16]
        return self._folder / sha256[:2] / sha256 / f"{page}-{setup}.json"

    def get(self, sha256: str, page: int, identity: str) -> PageOcr | None:
        path = self._path(sha256, page, identity)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return PageOcr(**data["result"]) if data.get("identity") == identity else None
        except (OSError, ValueError, TypeError, KeyError):
            return None  # absent or unreadable: read the page again

    def put(self, sha256: str, identity: str, result: PageOcr) -> None:
        """Store a page's reading (never a failure: those are retried next time)."""
        if result.error:
            return
        path = self._path(sha256, result.page, identity)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(
            json.dumps({"identity": identity, "result": asdict(result)}, ensure_ascii=False),
            encoding="utf-8",
        )
        partial.replace(path)
