"""The labelled questions and the courses they ask about.

Two sets: ``corpus`` asks about real course PDFs that stay where they are (``../shared/corpus``,
read in place and never copied: their licences are not ours to redistribute), ``sample`` about the
project's own sample course, rendered from ``samples/courses`` on demand. The data files are given
and never edited here; this module only reads them into typed objects.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from ingest.catalog import Course, course_from_paths, load_course

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT / "evaluation" / "data"
SAMPLE_SOURCES = REPO_ROOT / "samples" / "courses"
SetName = Literal["corpus", "sample", "scan"]
# `scan` (questions on the scanned pages of a module) is measured by bench/ocr_scan.py, scan vs text
SET_NAMES: tuple[SetName, ...] = ("corpus", "sample")
NOT_COVERED = "not_covered"


@dataclass(frozen=True)
class Question:
    """One labelled question; ``file``/``page`` are None when the material does not answer it."""

    id: str
    set_name: SetName
    question: str
    course_id: str
    file: str | None
    page: int | None  # physical, 1-based (pypdf index + 1), never the printed label
    alt_pages: tuple[int, ...]
    language: str
    kind: str

    @property
    def answerable(self) -> bool:
        return self.kind != NOT_COVERED and self.file is not None and self.page is not None

    def is_right(self, filename: str, page: int) -> bool:
        """Right file, and the labelled page or one of the pages that also answer it."""
        return (
            self.answerable
            and filename == self.file
            and (page == self.page or page in self.alt_pages)
        )


def _question(row: dict[str, Any], set_name: SetName) -> Question:
    return Question(
        id=str(row["id"]),
        set_name=set_name,
        question=str(row["question"]),
        course_id=str(row["course_id"]),
        file=row.get("file"),
        page=row.get("page"),
        alt_pages=tuple(int(p) for p in row.get("alt_pages") or ()),
        language=str(row["language"]),
        kind=str(row["kind"]),
    )


def load_questions(set_name: SetName, data_dir: Path = DATA_DIR) -> list[Question]:
    path = data_dir / f"{set_name}_eval.jsonl"
    with path.open(encoding="utf-8") as fh:
        return [_question(json.loads(line), set_name) for line in fh if line.strip()]


def corpus_courses(data_dir: Path = DATA_DIR, corpus_dir: Path | None = None) -> list[Course]:
    """The corpus courses of ``corpus_courses.yaml``; its ``corpus_dir`` is relative to the repo."""
    spec = yaml.safe_load((data_dir / "corpus_courses.yaml").read_text(encoding="utf-8"))
    folder = corpus_dir or (REPO_ROOT / str(spec["corpus_dir"])).resolve()
    return [
        course_from_paths(course_id, [folder / name for name in entry["files"]])
        for course_id, entry in spec["courses"].items()
    ]


def sample_courses(render_dir: Path) -> list[Course]:
    """Render the sample course PDFs into ``render_dir`` and read them back as courses.

    Rendering is deterministic (byte-identical output), so re-rendering does not defeat the
    ingestion's "unchanged file" check.
    """
    from samples.render import render_all  # the repository's own script, importable from its root

    render_all(SAMPLE_SOURCES, render_dir)
    return [load_course(folder) for folder in sorted(p for p in render_dir.iterdir() if p.is_dir())]
