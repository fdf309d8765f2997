"""Check the retrieval eval set over the real course PDFs.

Loads ``corpus_courses.yaml`` and ``corpus_eval.jsonl`` (both next to this script), validates the
schema and the spread of questions, and verifies every answer against the PDF text:

* ``page`` is the physical 1-based page (pypdf page index + 1), never the printed number or label;
* the ``answer_hint`` must occur on that page's extracted text, compared case-insensitively after
  NFKC normalisation and removal of all whitespace (some files put TABs between words and Think
  Python loses spaces, so whitespace cannot be trusted);
* the answer page must not look like a table of contents or a back-of-book index;
* ``not_covered`` questions list ``absent_terms``; none of them may occur anywhere in the course's
  files (same normalisation), which is how we verified the material does not answer them.

The PDFs are never copied into the repository: they are read from ``corpus_dir`` in the YAML,
resolved relative to the repository root (``../shared/corpus``). ``--corpus-dir`` overrides it.

Run from the repository root: ``.venv/bin/python -m evaluation.data.check_corpus_eval`` (the test
suite runs it too, see ``tests/unit/test_eval_sets.py``). Exits 1 if anything fails.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from evaluation.pagetext import PageTexts

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
DEFAULT_YAML = HERE / "corpus_courses.yaml"
DEFAULT_JSONL = HERE / "corpus_eval.jsonl"

KINDS = frozenset({"paraphrase", "keyword", "crosslingual", "not_covered"})
LANGUAGES = frozenset({"id", "en"})
ID_RE = re.compile(r"^c\d{3}$")
REQUIRED_KEYS = (
    "id",
    "question",
    "course_id",
    "file",
    "page",
    "alt_pages",
    "language",
    "kind",
    "answer_hint",
)
OPTIONAL_KEYS = frozenset({"absent_terms"})

# Minimum spread of the set (see the brief in the eval docs).
MIN_TOTAL = 70
MIN_ID_ON_ID_FILES = 45
MIN_PER_ID_FILE = 6
MIN_SLIDES = 4
SLIDES_FILE = "id_slides_sistem_basis_data.pdf"
MIN_EN_ON_EN_FILES = 15
MIN_CROSSLINGUAL = 8
MIN_NOT_COVERED = 8

DOT_LEADER_RE = re.compile(r"(?:\.\s*){6,}")
INDEX_LINE_RE = re.compile(r",\s*[0-9ivxlc]+(?:\s*[-–]\s*\d+)?\s*,?\s*$")


def norm(text: str) -> str:
    """Case-fold, NFKC-normalise and drop every whitespace character."""
    return "".join(unicodedata.normalize("NFKC", text).casefold().split())


@dataclass(frozen=True)
class Course:
    course_id: str
    language: str
    title: str
    files: tuple[str, ...]


class PdfPages:
    """Each PDF's text per physical page, read as ingestion reads it (optionally disk-cached)."""

    def __init__(self, corpus_dir: Path, cache_dir: Path | None = None) -> None:
        self.corpus_dir = corpus_dir
        self._texts = PageTexts(cache_dir)
        self._norm: dict[str, list[str]] = {}

    def raw(self, file: str) -> list[str]:
        return self._texts.raw(self.corpus_dir / file)

    def normalised(self, file: str) -> list[str]:
        if file not in self._norm:
            self._norm[file] = [norm(t) for t in self.raw(file)]
        return self._norm[file]


def looks_like_toc_or_index(text: str) -> str | None:
    """Return a reason if the page looks like a table of contents or a back-of-book index."""
    if len(DOT_LEADER_RE.findall(text)) >= 5:
        return "table of contents (dot leaders)"
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if len(lines) >= 20:
        index_like = sum(1 for ln in lines if INDEX_LINE_RE.search(ln))
        if index_like / len(lines) > 0.4:
            return "back-of-book index (term, page list)"
    return None


def load_courses(path: Path) -> tuple[Path, dict[str, Course], list[str]]:
    errors: list[str] = []
    data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        return Path(), {}, [f"{path.name}: top level must be a mapping"]
    corpus_dir_raw = data.get("corpus_dir")
    if not isinstance(corpus_dir_raw, str):
        errors.append(f"{path.name}: corpus_dir must be a string")
        corpus_dir_raw = "."
    courses_raw = data.get("courses")
    courses: dict[str, Course] = {}
    if not isinstance(courses_raw, dict):
        errors.append(f"{path.name}: courses must be a mapping")
        return Path(corpus_dir_raw), courses, errors
    for cid, spec in courses_raw.items():
        if not isinstance(spec, dict):
            errors.append(f"{path.name}: course {cid!r} must be a mapping")
            continue
        lang = spec.get("language")
        title = spec.get("title")
        files = spec.get("files")
        if lang not in LANGUAGES:
            errors.append(f"{path.name}: course {cid!r} has bad language {lang!r}")
        if not isinstance(title, str) or not title:
            errors.append(f"{path.name}: course {cid!r} needs a title")
        if not isinstance(files, list) or not files or not all(isinstance(f, str) for f in files):
            errors.append(f"{path.name}: course {cid!r} needs a non-empty list of files")
            files = []
        courses[str(cid)] = Course(str(cid), str(lang), str(title), tuple(files))
    return Path(corpus_dir_raw), courses, errors


def load_items(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    items: list[dict[str, Any]] = []
    errors: list[str] = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            errors.append(f"{path.name}:{lineno}: blank line")
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(f"{path.name}:{lineno}: invalid JSON ({exc})")
            continue
        if not isinstance(obj, dict):
            errors.append(f"{path.name}:{lineno}: each line must be a JSON object")
            continue
        items.append(obj)
    return items, errors


def check_not_covered_schema(item: dict[str, Any], course: Course) -> list[str]:
    qid = item["id"]
    errs: list[str] = []
    if item["file"] is not None or item["page"] is not None:
        errs.append(f"{qid}: not_covered needs file and page null")
    if item["alt_pages"] != []:
        errs.append(f"{qid}: not_covered needs alt_pages []")
    if item["answer_hint"] is not None:
        errs.append(f"{qid}: not_covered needs answer_hint null")
    terms = item.get("absent_terms")
    if not isinstance(terms, list) or not terms:
        errs.append(f"{qid}: not_covered needs a non-empty absent_terms list")
    elif not all(isinstance(t, str) and t.strip() for t in terms):
        errs.append(f"{qid}: absent_terms must be non-empty strings")
    if item["language"] != course.language:
        errs.append(f"{qid}: not_covered question language should match the course")
    return errs


def check_schema(item: dict[str, Any], courses: dict[str, Course]) -> list[str]:
    qid = item.get("id", "?")
    errs: list[str] = []
    missing = [k for k in REQUIRED_KEYS if k not in item]
    if missing:
        return [f"{qid}: missing keys {missing}"]
    extra = set(item) - set(REQUIRED_KEYS) - OPTIONAL_KEYS
    if extra:
        errs.append(f"{qid}: unexpected keys {sorted(extra)}")
    if not isinstance(qid, str) or not ID_RE.match(qid):
        errs.append(f"{qid}: id must look like c001")
    if not isinstance(item["question"], str) or len(item["question"].strip()) < 5:
        errs.append(f"{qid}: question must be a non-trivial string")
    kind = item["kind"]
    lang = item["language"]
    if kind not in KINDS:
        errs.append(f"{qid}: kind {kind!r} not in {sorted(KINDS)}")
    if lang not in LANGUAGES:
        errs.append(f"{qid}: language {lang!r} not in {sorted(LANGUAGES)}")
    course = courses.get(item["course_id"])
    if course is None:
        errs.append(f"{qid}: unknown course_id {item['course_id']!r}")
        return errs
    if kind == "not_covered":
        return errs + check_not_covered_schema(item, course)
    alt = item["alt_pages"]
    if "absent_terms" in item:
        errs.append(f"{qid}: absent_terms is only for not_covered")
    if item["file"] not in course.files:
        errs.append(f"{qid}: file {item['file']!r} is not a file of course {course.course_id}")
    page = item["page"]
    if not isinstance(page, int) or isinstance(page, bool) or page < 1:
        errs.append(f"{qid}: page must be a positive int (physical, 1-based)")
    if not isinstance(alt, list) or not all(
        isinstance(p, int) and not isinstance(p, bool) and p >= 1 for p in alt
    ):
        errs.append(f"{qid}: alt_pages must be a list of positive ints")
    elif page in alt or len(set(alt)) != len(alt):
        errs.append(f"{qid}: alt_pages must be distinct and must not repeat page")
    hint = item["answer_hint"]
    if not isinstance(hint, str) or len(norm(hint)) < 4:
        errs.append(f"{qid}: answer_hint must be a phrase of at least 4 non-space characters")
    if kind == "crosslingual":
        if lang == course.language:
            errs.append(f"{qid}: crosslingual question must differ in language from the material")
    elif lang != course.language:
        errs.append(f"{qid}: {kind} question language should match the material")
    return errs


def check_against_pdf(
    item: dict[str, Any], courses: dict[str, Course], pdfs: PdfPages
) -> list[str]:
    qid = item["id"]
    errs: list[str] = []
    if item["kind"] == "not_covered":
        course = courses[item["course_id"]]
        for file in course.files:
            pages = pdfs.normalised(file)
            for term in item["absent_terms"]:
                hits = [i + 1 for i, text in enumerate(pages) if norm(term) in text]
                if hits:
                    errs.append(
                        f"{qid}: absent term {term!r} occurs in {file} on pages {hits[:10]}"
                    )
        return errs
    file = item["file"]
    pages = pdfs.normalised(file)
    raw = pdfs.raw(file)
    page = item["page"]
    for p in [page, *item["alt_pages"]]:
        if not 1 <= p <= len(pages):
            errs.append(f"{qid}: page {p} out of range 1..{len(pages)} for {file}")
            continue
        reason = looks_like_toc_or_index(raw[p - 1])
        if reason:
            errs.append(f"{qid}: page {p} of {file} looks like a {reason}")
    if errs:
        return errs
    if norm(item["answer_hint"]) not in pages[page - 1]:
        elsewhere = [i + 1 for i, t in enumerate(pages) if norm(item["answer_hint"]) in t]
        errs.append(
            f"{qid}: hint {item['answer_hint']!r} not on physical page {page} of {file}"
            f" (found on pages {elsewhere[:10]})"
        )
    return errs


def check_spread(items: list[dict[str, Any]], courses: dict[str, Course]) -> list[str]:
    errs: list[str] = []
    answerable = [it for it in items if it.get("kind") != "not_covered"]
    id_files = sorted({f for c in courses.values() if c.language == "id" for f in c.files})
    en_files = sorted({f for c in courses.values() if c.language == "en" for f in c.files})
    if len(items) < MIN_TOTAL:
        errs.append(f"spread: {len(items)} questions, need >= {MIN_TOTAL}")
    id_on_id = [
        it for it in answerable if it.get("language") == "id" and it.get("file") in id_files
    ]
    if len(id_on_id) < MIN_ID_ON_ID_FILES:
        errs.append(f"spread: {len(id_on_id)} Indonesian questions on id files, need >= 45")
    per_file = Counter(it.get("file") for it in id_on_id)
    for f in id_files:
        need = MIN_SLIDES if f == SLIDES_FILE else MIN_PER_ID_FILE
        if per_file[f] < need:
            errs.append(f"spread: {per_file[f]} Indonesian questions on {f}, need >= {need}")
    en_on_en = [
        it for it in answerable if it.get("language") == "en" and it.get("file") in en_files
    ]
    if len(en_on_en) < MIN_EN_ON_EN_FILES:
        errs.append(f"spread: {len(en_on_en)} English questions on en files, need >= 15")
    n_cross = sum(1 for it in items if it.get("kind") == "crosslingual")
    if n_cross < MIN_CROSSLINGUAL:
        errs.append(f"spread: {n_cross} crosslingual questions, need >= {MIN_CROSSLINGUAL}")
    n_nc = sum(1 for it in items if it.get("kind") == "not_covered")
    if n_nc < MIN_NOT_COVERED:
        errs.append(f"spread: {n_nc} not_covered questions, need >= {MIN_NOT_COVERED}")
    return errs


def summary(items: list[dict[str, Any]]) -> str:
    by_file = Counter(str(it.get("file")) for it in items)
    by_lang = Counter(str(it.get("language")) for it in items)
    by_kind = Counter(str(it.get("kind")) for it in items)
    lines = [f"{len(items)} questions"]
    for title, counter in (("file", by_file), ("language", by_lang), ("kind", by_kind)):
        lines.append(f"by {title}:")
        lines.extend(f"  {n:3d}  {key}" for key, n in sorted(counter.items()))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--yaml", type=Path, default=DEFAULT_YAML)
    parser.add_argument("--jsonl", type=Path, default=DEFAULT_JSONL)
    parser.add_argument(
        "--corpus-dir", type=Path, default=None, help="override corpus_dir from the YAML"
    )
    parser.add_argument(
        "--cache-dir", type=Path, default=None, help="cache extracted page text here"
    )
    args = parser.parse_args(argv)
    logging.getLogger("pypdf").setLevel(logging.ERROR)

    corpus_dir_cfg, courses, errors = load_courses(args.yaml)
    corpus_dir = args.corpus_dir or (
        corpus_dir_cfg if corpus_dir_cfg.is_absolute() else REPO_ROOT / corpus_dir_cfg
    )
    items, item_errors = load_items(args.jsonl)
    errors += item_errors

    ids = Counter(str(it.get("id")) for it in items)
    errors += [f"{qid}: duplicate id ({n}x)" for qid, n in ids.items() if n > 1]
    questions = Counter(norm(str(it.get("question"))) for it in items)
    errors += [f"duplicate question text: {q!r}" for q, n in questions.items() if n > 1]

    for f in sorted({f for c in courses.values() for f in c.files}):
        if not (corpus_dir / f).is_file():
            errors.append(f"missing PDF {corpus_dir / f}")

    pdfs = PdfPages(corpus_dir, args.cache_dir)
    for item in items:
        schema_errs = check_schema(item, courses)
        errors += schema_errs
        if not schema_errs and (item["file"] is None or (corpus_dir / item["file"]).is_file()):
            errors += check_against_pdf(item, courses, pdfs)
    errors += check_spread(items, courses)

    print(summary(items))
    if errors:
        print(f"\n{len(errors)} problem(s):", file=sys.stderr)
        for e in errors:
            print(f"  FAIL {e}", file=sys.stderr)
        return 1
    print(f"\nOK: all {len(items)} questions verified against {corpus_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
