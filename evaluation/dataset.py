"""The labelled questions and the courses they ask about.

Three sets. ``students`` is the main one: questions written the way students ask (chat-style
Indonesian, short keyword queries, typos, English for the English books), by kind (``close`` to
the page's wording, ``paraphrase``, ``crosslingual``, ``distractor``, ``not_covered``), each with a
fixed ``split``: ``dev`` may be tuned on, ``heldout`` is only ever reported. ``corpus`` and
``sample`` are the older near-text sets (split ``legacy``), kept as a regression check.

The material stays where it is: the real course PDFs are read in place from ``../shared/corpus``
(their licences are not ours to redistribute) and the project's sample course is rendered from
``samples/courses`` on demand. This module only reads the data files into typed objects.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from evaluation.splits import LEGACY
from ingest.catalog import Course, course_from_paths, load_course

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT / "evaluation" / "data"
SAMPLE_SOURCES = REPO_ROOT / "samples" / "courses"
SetName = Literal["corpus", "sample", "students", "scan"]
# `scan` (questions on the scanned pages of a module) is measured by bench/ocr_scan.py, scan vs text
SET_NAMES: tuple[SetName, ...] = ("corpus", "sample", "students")
Material = Literal["corpus", "sample"]
# which course material each set asks about (the students set spans both)
SET_MATERIAL: dict[SetName, tuple[Material, ...]] = {
    "corpus": ("corpus",),
    "sample": ("sample",),
    "students": ("corpus", "sample"),
}
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
    split: str = LEGACY  # dev | heldout for the students set
    material: Material = "corpus"  # the real corpus PDFs, or the project's sample course

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


def _question(row: dict[str, Any], set_name: SetName, corpus_ids: frozenset[str]) -> Question:
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
        split=str(row.get("split") or LEGACY),
        material="corpus" if str(row["course_id"]) in corpus_ids else "sample",
    )


def set_path(set_name: SetName, data_dir: Path = DATA_DIR) -> Path:
    return data_dir / f"{set_name}_eval.jsonl"


def load_rows(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load_questions(set_name: SetName, data_dir: Path = DATA_DIR) -> list[Question]:
    corpus_ids = frozenset(_corpus_spec(data_dir)["courses"])
    rows = load_rows(set_path(set_name, data_dir))
    return [_question(row, set_name, corpus_ids) for row in rows]


def _corpus_spec(data_dir: Path) -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load(
        (data_dir / "corpus_courses.yaml").read_text(encoding="utf-8")
    )
    return spec


def corpus_courses(data_dir: Path = DATA_DIR, corpus_dir: Path | None = None) -> list[Course]:
    """The corpus courses of ``corpus_courses.yaml``; its ``corpus_dir`` is relative to the repo."""
    spec = _corpus_spec(data_dir)
    folder = corpus_dir or (REPO_ROOT / str(spec["corpus_dir"])).resolve()
    courses = []
    for course_id, entry in spec["courses"].items():
        course = course_from_paths(course_id, [folder / name for name in entry["files"]])
        course.title, course.language = str(entry["title"]), str(entry["language"])
        courses.append(course)
    return courses


def sample_courses(render_dir: Path) -> list[Course]:
    """Render the sample course PDFs into ``render_dir`` and read them back as courses.

    Rendering is deterministic (byte-identical output), so re-rendering does not defeat the
    ingestion's "unchanged file" check.
    """
    from samples.render import render_all  # the repository's own script, importable from its root

    render_all(SAMPLE_SOURCES, render_dir)
    return [load_course(folder) for folder in sorted(p for p in render_dir.iterdir() if p.is_dir())]


def material_courses(material: Material, render_dir: Path) -> list[Course]:
    return corpus_courses() if material == "corpus" else sample_courses(render_dir)
