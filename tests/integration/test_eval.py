"""The retrieval eval and its notebook, on the sample course (about 70 chunks, so it stays fast).

The students set is asked here on its sample-course questions only (the corpus PDFs would take
minutes to ingest); its labels are checked against all the material in tests/unit/test_eval_sets.py.

Runs against the real Redis Stack, the real ``CourseRetriever`` and the local embedding model, on the
session's sample index (``sample_index`` in conftest). The quality floors sit below what was
measured on 2026-11-25 (hit@1 .955, hit@5 .970-.985, MRR .960-.973, dense and hybrid), leaving room
for HNSW noise but not for a retrieval that stopped finding the right page.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from evaluation.bysplit import ALL_ANSWERABLE
from evaluation.dataset import load_questions
from evaluation.plots import DISTANCE_PLOT, HIT_PLOT
from evaluation.report import REPORT_JSON, SUMMARY_MD, write
from evaluation.run_notebook import execute
from evaluation.runner import KEEP_ALL
from evaluation.suite import EvalConfig, evaluate
from tests.conftest import REDIS_URL, base_settings

pytestmark = pytest.mark.integration

HIT5_FLOOR = 0.85
HIT1_FLOOR = 0.80
MRR_FLOOR = 0.80
# students set, sample course only: hit@5 measured .88 (dev) and .96-1.00 (held-out), dense and
# hybrid, on 2026-11-29; the floor leaves room for three questions of HNSW noise per split
STUDENTS_HIT5_FLOOR = 0.75
RECOMMENDATION = re.compile(r"^RAG_DISTANCE_THRESHOLD=(\d\.\d{1,3})$", re.MULTILINE)


async def test_eval_on_the_sample_set_scores_every_question_sanely(
    sample_index: str, tmp_path: Path
) -> None:
    settings = base_settings(sample_index, tmp_path)
    questions = load_questions("sample")
    covered = sum(q.answerable for q in questions)
    report = await evaluate(settings, EvalConfig(sets=("sample",), work_dir=tmp_path))

    assert len(report.questions) == len(questions) == 75
    assert set(report.results) == {"dense", "hybrid"}
    for mode, result in report.results.items():
        assert len(report.runs[mode]) == len(questions)
        scores = result.scores
        assert scores.n == covered
        values = [*scores.hit.values(), scores.mrr]
        assert all(0.0 <= v <= 1.0 for v in values), (mode, values)
        assert scores.hit[5] >= scores.hit[1], mode
        assert scores.hit[1] >= HIT1_FLOOR, (mode, scores)
        assert scores.hit[5] >= HIT5_FLOOR, (mode, scores)
        assert scores.mrr >= MRR_FLOOR, (mode, scores)
        for group, buckets in result.groups.items():
            assert sum(s.n for s in buckets.values()) == covered, (mode, group)

        points = [p for p in result.points if p.top_k == settings.rag_top_k]
        points.sort(key=lambda p: p.threshold)
        kept = [p.right_kept for p in points]
        rejected = [p.rejected for p in points]
        assert kept == sorted(kept) and rejected == sorted(rejected, reverse=True), mode
        assert points[-1].threshold == KEEP_ALL and points[-1].rejected == 0.0
        if settings.rag_top_k in scores.hit:
            assert points[-1].right_kept == pytest.approx(scores.hit[settings.rag_top_k])
        rec = result.recommendation
        assert rec.threshold in {p.threshold for p in points[:-1]}
        assert rec.point.right_kept >= rec.keep * rec.uncut.right_kept

    assert report.diagnostics["candidates_without_distance"] == 0
    written = write(report, tmp_path / "out")
    assert {p.name for p in written} == {REPORT_JSON, SUMMARY_MD, HIT_PLOT, DISTANCE_PLOT}
    saved = json.loads((tmp_path / "out" / REPORT_JSON).read_text())
    assert saved["counts"]["questions"] == len(questions)
    assert len(saved["questions"]) == len(questions)
    assert saved["headline"]["threshold"] == report.recommendation.threshold


def test_notebook_runs_headless_and_recommends_a_threshold(
    sample_index: str, tmp_path: Path
) -> None:
    out = tmp_path / "nb-out"
    nb = execute(
        {
            "EVAL_SET": "sample",
            "EVAL_PREFIX": sample_index,
            "EVAL_OUT": str(out),
            "REDIS_KNOWLEDGE_URL": REDIS_URL,
            "REDIS_CACHE_URL": REDIS_URL,
            "EMBEDDING_PROVIDER": "local",
        },
        output=tmp_path / "executed.ipynb",
        timeout=240,
    )

    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    found = RECOMMENDATION.search(text)
    assert found, text[-2000:]
    pngs = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(pngs) == 2
    for name in (HIT_PLOT, DISTANCE_PLOT):
        assert (out / name).stat().st_size > 10_000
    report = json.loads((out / REPORT_JSON).read_text())
    assert report["config"]["sets"] == ["sample"]
    assert float(found.group(1)) == pytest.approx(report["headline"]["threshold"])


async def test_students_set_on_the_sample_course_reports_kinds_and_splits(
    sample_index: str, tmp_path: Path
) -> None:
    settings = base_settings(sample_index, tmp_path)
    wanted = [q for q in load_questions("students") if q.material == "sample"]
    config = EvalConfig(sets=("students",), materials=("sample",), work_dir=tmp_path)
    report = await evaluate(settings, config)

    assert sorted(q.id for q in report.questions) == sorted(q.id for q in wanted)
    tuned = [q for q in wanted if q.split == "dev"]
    assert report.diagnostics["threshold_swept_on"] == len(tuned)
    assert report.diagnostics["threshold_swept_on_heldout"] is False
    for mode, result in report.results.items():
        tables = result.by_split
        assert set(tables.refusals) == {"dev", "heldout"}
        for split, rates in tables.refusals.items():
            mine = [q for q in wanted if q.split == split]
            assert rates.not_covered == sum(not q.answerable for q in mine)
            assert rates.answerable == sum(q.answerable for q in mine)
        for kind in ("close", "paraphrase", "crosslingual", "distractor", ALL_ANSWERABLE):
            row = tables.scores[kind]
            assert set(row) == {"dev", "heldout"}, (mode, kind)
            expected = [q for q in wanted if q.answerable and kind in (ALL_ANSWERABLE, q.kind)]
            assert sum(s.n for s in row.values()) == len(expected)
            for scores in row.values():
                assert 0.0 <= scores.hit[1] <= scores.hit[3] <= 1.0, (mode, kind, scores)
        assert tables.corpus_scores == {}  # no corpus question was asked
        everything = tables.scores[ALL_ANSWERABLE]
        assert min(s.hit[5] for s in everything.values()) >= STUDENTS_HIT5_FLOOR, (mode, everything)

    written = write(report, tmp_path / "out")
    saved = json.loads((tmp_path / "out" / REPORT_JSON).read_text())
    assert {p.name for p in written} >= {REPORT_JSON, SUMMARY_MD}
    by_split = saved["modes"]["dense"]["by_kind_and_split"]
    assert set(by_split["scores"]["paraphrase"]) == {"dev", "heldout"}
    assert saved["counts"]["split:heldout"] == len(wanted) - len(tuned)
    assert "By kind and split" in (tmp_path / "out" / SUMMARY_MD).read_text()
