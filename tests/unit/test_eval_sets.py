"""The eval sets are checked against the real material on every test run, so they cannot rot.

No services: the corpus PDFs are read from ../shared/corpus (page text cached in pytest's cache
directory, keyed by file hash and pypdf version) and the sample course is rendered by the
project's own script. The checker itself is tested on deliberately broken copies of the set.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from evaluation import setcheck
from evaluation.data import check_corpus_eval
from evaluation.dataset import load_questions, load_rows, set_path
from evaluation.splits import SPLITS

STUDENTS = set_path("students")


@pytest.fixture(scope="module")
def page_cache(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pytest's cache directory (kept between runs), or a temporary one when it is disabled."""
    cache = getattr(request.config, "cache", None)
    if cache is None:
        return tmp_path_factory.mktemp("eval-page-text")
    return Path(cache.mkdir("eval-page-text"))


@pytest.fixture(scope="module")
def render_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("eval-sample-courses")


@pytest.fixture(scope="module")
def courses(render_dir: Path) -> dict[str, setcheck.CourseFiles]:
    return setcheck.catalog(render_dir)


@pytest.fixture(scope="module")
def report(
    render_dir: Path, page_cache: Path, courses: dict[str, setcheck.CourseFiles]
) -> setcheck.Report:
    return setcheck.check(STUDENTS, render_dir, page_cache, courses)


def test_students_set_is_verified_against_its_pages(report: setcheck.Report) -> None:
    assert report.errors == []
    kinds = Counter(item["kind"] for item in report.items)
    assert len(report.items) >= 200
    assert all(kinds[kind] >= 30 for kind in setcheck.KINDS), kinds
    crossing = Counter(i["language"] for i in report.items if i["kind"] == "crosslingual")
    assert crossing["id"] >= 10 and crossing["en"] >= 10, crossing


def test_paraphrases_share_few_words_with_their_page(report: setcheck.Report) -> None:
    paraphrase = setcheck.mean_overlap(report, "paraphrase")
    close = setcheck.mean_overlap(report, "close")
    assert paraphrase is not None and close is not None
    assert paraphrase <= setcheck.MAX_PARAPHRASE_OVERLAP
    assert close - paraphrase >= 0.3  # the kinds really differ


def test_splits_are_stored_and_balanced(report: setcheck.Report) -> None:
    splits = Counter(item["split"] for item in report.items)
    assert set(splits) == set(SPLITS)
    assert abs(splits["dev"] - splits["heldout"]) <= 2, splits
    questions = load_questions("students")
    assert {q.material for q in questions} == {"corpus", "sample"}
    assert {q.split for q in load_questions("corpus")} == {"legacy"}


def test_legacy_corpus_set_still_verifies(page_cache: Path) -> None:
    assert check_corpus_eval.main(["--cache-dir", str(page_cache)]) == 0


def _broken(rows: list[dict[str, Any]], qid: str, **changes: Any) -> dict[str, Any]:
    row = next(dict(r) for r in rows if r["id"] == qid)
    row.update(changes)
    return row


def test_checker_rejects_broken_labels(
    tmp_path: Path, render_dir: Path, page_cache: Path, courses: dict[str, setcheck.CourseFiles]
) -> None:
    rows = load_rows(STUDENTS)
    by_kind = {kind: next(r for r in rows if r["kind"] == kind) for kind in setcheck.KINDS}
    close, para, distractor, uncovered = (
        by_kind["close"],
        by_kind["paraphrase"],
        by_kind["distractor"],
        by_kind["not_covered"],
    )
    page_text = setcheck.PageTexts(page_cache)
    course = courses[para["course_id"]]
    lifted = page_text.raw(course.files[para["file"]])[para["page"] - 1].split()[:12]
    broken = [
        _broken(rows, close["id"], answer_hint="this phrase is on no page at all"),
        _broken(rows, close["id"], id="q901", page=close["page"] + 1),
        _broken(rows, para["id"], id="q902", question=" ".join(lifted)),
        _broken(rows, distractor["id"], id="q903", decoy={"term": "zzqx", "pages": [1]}),
        _broken(rows, uncovered["id"], id="q904", absent_terms=[close["answer_hint"]]),
        _broken(rows, close["id"], id="q905", split="train"),
        _broken(rows, close["id"], id="q906", kind="crosslingual"),
    ]
    path = tmp_path / "broken.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in broken), encoding="utf-8")

    errors = setcheck.check(path, render_dir, page_cache, courses).errors

    def about(qid: str) -> list[str]:
        return [e for e in errors if e.startswith(f"{qid}:")]

    assert any("hint not on" in e for e in about(close["id"]))
    assert any("hint not on" in e for e in about("q901"))
    assert any("copies" in e for e in about("q902"))
    assert any("decoy term" in e for e in about("q903"))
    assert any("absent term found" in e for e in about("q904"))
    assert any("split" in e for e in about("q905"))
    assert any("crosslingual question" in e for e in about("q906"))
    assert any(e.startswith("set: 7 questions") for e in errors)
