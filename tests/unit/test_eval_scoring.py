"""The eval's own arithmetic: word overlap, the stored split, and the per-split tables."""

from __future__ import annotations

from typing import Any

from evaluation.bysplit import ALL_ANSWERABLE, refusal_rates, split_tables
from evaluation.dataset import Question
from evaluation.overlap import content_words, longest_copied_run, overlap
from evaluation.runner import Hit, QuestionRun
from evaluation.splits import assign, imbalance


def test_content_words_drop_chat_and_function_words() -> None:
    words = content_words("Gimana sih cara kerja RAM, kok datanya bisa hilang? What is 2 + 2")
    assert words == ["kerja", "ram", "datanya", "hilang"]


def test_overlap_is_generous_to_the_page() -> None:
    page = "Memori ini menyimpan data.\nRAM akan aktif bila listrik On"
    # affixed forms count ("simpan" in "menyimpan"); "ram" only as a whole token
    assert overlap("simpan ram aktifkan", page) == 2 / 3
    assert overlap("programmer", "pro gram mer") == 1.0  # spacing lost by the PDF still counts
    assert overlap("ram", "program") == 0.0
    assert overlap("apa itu?", page) is None


def test_copied_runs_ignore_spacing_and_punctuation() -> None:
    page = "Sistem Operasi (OS) merupakan perangkat lunak bertindak sebagai antarmuka"
    assert longest_copied_run("os merupakan perangkat lunak bertindak sebagai apa", page) == 6
    assert longest_copied_run("perangkat yang jadi perantara", page) == 1


def _rows(n: int, kind: str = "close", course: str = "pti") -> list[dict[str, Any]]:
    return [{"id": f"q{i:03d}", "kind": kind, "course_id": course} for i in range(n)]


def test_split_assignment_is_deterministic_balanced_and_never_moves() -> None:
    rows = _rows(9) + _rows(7, "paraphrase") + _rows(5, "close", "sbd")
    again = [dict(r) for r in rows]
    assert assign(rows) == 21 and assign(again) == 21
    assert [r["split"] for r in rows] == [r["split"] for r in again]
    assert imbalance(rows) == {}
    sides = [r["split"] for r in rows]
    assert abs(sides.count("dev") - sides.count("heldout")) <= 1

    before = {r["id"]: r["split"] for r in rows}
    grown = rows + [{"id": f"q{100 + i}", "kind": "close", "course_id": "pti"} for i in range(4)]
    assert assign(grown) == 4
    assert {r["id"]: r["split"] for r in grown[: len(rows)]} == before
    assert imbalance(grown) == {}


def _run(qid: str, kind: str, split: str, right_at: int | None, distance: float) -> QuestionRun:
    page = 3 if kind != "not_covered" else None
    question = Question(
        qid, "students", "q", "pti", "a.pdf" if page else None, page, (), "id", kind, split
    )
    hits = [Hit("a.pdf", 10 + i, distance + i / 100, None, None, "text") for i in range(20)]
    if right_at is not None:
        hits[right_at - 1] = Hit("a.pdf", 3, distance, None, None, "text")
    run = QuestionRun(question, "dense")
    run.lists = {k: hits[:k] for k in (1, 3, 5, 8, 20)}
    return run


def test_split_tables_keep_dev_and_heldout_apart() -> None:
    runs = [
        _run("q1", "close", "dev", 1, 0.10),
        _run("q2", "close", "dev", 4, 0.12),
        _run("q3", "close", "heldout", None, 0.20),
        _run("q4", "paraphrase", "heldout", 2, 0.18),
        _run("q5", "not_covered", "dev", None, 0.17),
        _run("q6", "not_covered", "heldout", None, 0.12),
    ]
    tables = split_tables(runs, top_k=5, threshold=0.16)

    dev, held = tables.scores["close"]["dev"], tables.scores["close"]["heldout"]
    assert (dev.n, dev.hit[1], dev.hit[3], dev.hit[5], dev.mrr) == (2, 0.5, 0.5, 1.0, 0.625)
    assert (held.n, held.hit[5], held.mrr) == (1, 0.0, 0.0)
    assert "dev" not in tables.scores["paraphrase"]
    assert tables.scores[ALL_ANSWERABLE]["heldout"].n == 2
    assert tables.corpus_scores == tables.scores  # every question here is on a corpus course
    # as served, q4's right page (0.18) is cut by the 0.16 threshold; q1 and q2 stay within it
    assert tables.scores["paraphrase"]["heldout"].hit[5] == 1.0
    assert tables.served["paraphrase"]["heldout"].hit[5] == 0.0
    assert tables.served["close"]["dev"] == dev

    rates = refusal_rates(runs, 5, 0.16)
    assert (rates["dev"].not_covered_refused, rates["dev"].refused_share) == (1, 1.0)
    assert (rates["heldout"].not_covered_refused, rates["heldout"].refused_share) == (0, 0.0)
    # q3 (0.20) and q4 (0.18) have nothing within 0.16: both wrongly refused
    assert (rates["heldout"].answerable_refused, rates["heldout"].false_refusal) == (2, 1.0)
    assert rates["dev"].false_refusal == 0.0
    assert tables.as_dict()["refusals"]["heldout"]["false_refusal"] == 1.0
