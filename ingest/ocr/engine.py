"""Is Tesseract here, which version, which languages, and what to install when it is not.

Asked once per ingest run, before any page is read: a machine without Tesseract (or without a
course's language) gets "needs OCR: install ..." for its scanned files and everything else is
ingested as usual. The Debian package names come from ``ops.system_packages``, the one list that
``tutor-ops system install`` also installs from.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass

from ops.system_packages import GROUPS

PROBE_TIMEOUT_SECONDS = 20.0
ORIENTATION_MODEL = "osd"  # Tesseract's orientation and script detection data

# course.yaml `language` (ISO 639-1) -> Tesseract languages. English is added as a second
# language because course modules in every language quote English terms.
COURSE_LANGUAGES = {
    "id": "ind+eng",
    "en": "eng",
    "ms": "msa+eng",
    "jv": "jav+eng",
    "su": "sun+eng",
    "de": "deu+eng",
    "nl": "nld+eng",
    "fr": "fra+eng",
    "es": "spa+eng",
    "pt": "por+eng",
    "ar": "ara+eng",
}


class OcrUnavailable(Exception):
    """OCR cannot run here; the message says what to install."""


@dataclass(frozen=True)
class Tesseract:
    command: str
    version: str  # e.g. "5.3.0"
    languages: frozenset[str]

    def missing(self, languages: str) -> list[str]:
        """Languages of ``languages`` (``ind+eng``) with no model installed, plus ``osd``."""
        wanted = [*languages.split("+"), ORIENTATION_MODEL]
        return [lang for lang in wanted if lang not in self.languages]


def ocr_packages() -> tuple[str, ...]:
    return next(group.packages for group in GROUPS if group.name == "ocr")


def install_hint(languages: list[str] | None = None) -> str:
    """``install tesseract-ocr ...`` for a missing engine, or the language packages missing."""
    if languages is None:
        packages = list(ocr_packages())
    else:
        packages = [f"tesseract-ocr-{lang.replace('_', '-').lower()}" for lang in languages]
    return f"install {' '.join(packages)} (`tutor-ops system install` does it)"


def languages_for(explicit: str, course_language: str, default: str) -> str:
    """The Tesseract languages of a course: course.yaml's ``ocr_languages``, else its
    ``language`` mapped, else the configured default."""
    if explicit.strip():
        return explicit.strip()
    return COURSE_LANGUAGES.get(course_language.strip().lower()[:2], default)


def detect(command: str, timeout: float = PROBE_TIMEOUT_SECONDS) -> Tesseract:
    """Run ``tesseract --version`` and ``--list-langs``; raise :class:`OcrUnavailable` if absent."""
    try:
        version = subprocess.run(
            [command, "--version"], capture_output=True, text=True, timeout=timeout, check=False
        )
        listing = subprocess.run(
            [command, "--list-langs"], capture_output=True, text=True, timeout=timeout, check=False
        )
    except FileNotFoundError as exc:
        raise OcrUnavailable(
            f"needs OCR: {install_hint()}; no Tesseract at {command!r} (TESSERACT_CMD)"
        ) from exc
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise OcrUnavailable(
            f"needs OCR: {install_hint()}; Tesseract ({command!r}) cannot run: {type(exc).__name__}"
        ) from exc
    match = re.search(r"tesseract\s+v?(\d+(?:\.\d+)+)", version.stdout + version.stderr)
    if version.returncode != 0 or match is None:
        raise OcrUnavailable(f"needs OCR: {install_hint()}; {command!r} is not Tesseract")
    if int(match.group(1).split(".")[0]) < 4:
        raise OcrUnavailable(f"needs OCR: Tesseract {match.group(1)} is too old; {install_hint()}")
    lines = (listing.stdout + listing.stderr).splitlines()
    languages = frozenset(
        line.strip() for line in lines if re.fullmatch(r"[A-Za-z_]+", line.strip())
    )
    return Tesseract(command, match.group(1), languages)
