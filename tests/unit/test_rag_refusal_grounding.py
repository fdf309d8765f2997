from __future__ import annotations

import pytest
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from app.rag.analysis import Analyzer, Stemming
from app.rag.grounding import GroundingChecker, split_sentences
from app.rag.lexical_index import ChunkDoc, CourseLexicalIndex
from app.rag.refusal import Evidence, RefusalRule, decide, evidence_for_nodes, gather_evidence

RULE = RefusalRule(max_distance=0.19, lexical_distance=0.13, min_coverage=0.2, max_unknown=0.8)
COURSE = [
    ChunkDoc("c:1", "Penjadwalan proses round robin memberi setiap proses jatah waktu.", {}),
    ChunkDoc("c:2", "Deadlock terjadi bila proses saling menunggu sumber daya.", {}),
    ChunkDoc("c:3", "Memori utama menyimpan program yang sedang dijalankan.", {}),
]


@pytest.fixture
def index() -> CourseLexicalIndex:
    return CourseLexicalIndex.build("os", "v", COURSE, Analyzer(Stemming.SASTRAWI))


def test_rule_refuses_far_questions_and_close_ones_without_their_words() -> None:
    assert RULE.refuses(Evidence(0.20, 1.0, 0.0, 3))  # far, whatever the words
    assert not RULE.refuses(Evidence(0.12, 0.0, 1.0, 3))  # close: lexical evidence not consulted
    assert RULE.refuses(Evidence(0.15, 0.1, 0.0, 3))  # words missing from the best chunks
    assert RULE.refuses(Evidence(0.15, 0.5, 0.9, 3))  # most words unknown to the course
    assert not RULE.refuses(Evidence(0.15, 0.5, 0.2, 3))
    assert not RULE.refuses(Evidence(0.15, 0.0, 1.0, 0))  # no content words: no evidence


def test_verdict_explains_itself() -> None:
    far = decide(RULE, Evidence(0.25, 1.0, 0.0, 2))
    assert far.refuse and "0.250 > 0.19" in far.reason
    missing = decide(RULE, Evidence(0.15, 0.0, 1.0, 2))
    assert missing.refuse and "words missing" in missing.reason
    assert decide(RULE, Evidence(0.1, 1.0, 0.0, 2)).reason == ""


def test_evidence_from_a_course_index(index: CourseLexicalIndex) -> None:
    covered = gather_evidence("apa itu deadlock pada proses?", [0.14], ["c:2", "c:1"], index)
    assert covered.coverage == pytest.approx(1.0) and covered.unknown == 0.0
    paging = gather_evidence("bagaimana cara kerja paging?", [0.15], ["c:3", "c:1"], index)
    assert paging.unknown == pytest.approx(1.0) and paging.coverage == 0.0
    assert decide(RULE, paging).refuse and not decide(RULE, covered).refuse
    assert gather_evidence("apa itu?", [0.15], ["c:1"], index).terms == 0
    assert gather_evidence("deadlock", [], [], None) == Evidence(2.0, 0.0, 0.0, 0)


def test_evidence_for_nodes_reads_distances(index: CourseLexicalIndex) -> None:
    nodes = [
        NodeWithScore(node=TextNode(id_="c:2", text="x", metadata={"vector_distance": 0.11})),
        NodeWithScore(node=TextNode(id_="c:1", text="y"), score=0.8),
    ]
    evidence = evidence_for_nodes(QueryBundle("deadlock"), nodes, index)
    assert evidence.distance == pytest.approx(0.11) and evidence.coverage == 1.0


SOURCES = [
    "Round robin memberi setiap proses jatah waktu 10 milidetik. Setelah jatah habis, proses "
    "dipindah ke akhir antrian siap."
]


def test_grounded_answer_passes_and_keeps_citations_out_of_the_check() -> None:
    checker = GroundingChecker(Stemming.SASTRAWI)
    answer = "Round robin memberi setiap proses jatah waktu 10 milidetik (hal. 12). Berikut ini."
    report = checker.check(answer, SOURCES)
    assert report.grounded and report.judged and report.supported_share == 1.0


def test_unsupported_claims_and_numbers_are_found() -> None:
    checker = GroundingChecker(Stemming.SASTRAWI)
    answer = (
        "Round robin memberi setiap proses jatah waktu 20 milidetik. "
        "Algoritma ini ditemukan oleh ilmuwan Belanda Edsger Dijkstra pada tahun 1965."
    )
    report = checker.check(answer, SOURCES)
    assert not report.grounded
    first, second = report.sentences
    assert first.missing_numbers == ("20",) and not first.supported
    assert second.support < 0.5 and not second.supported
    assert report.without_unsupported() == ""


def test_remove_policy_keeps_supported_sentences() -> None:
    checker = GroundingChecker(Stemming.SASTRAWI)
    answer = "Proses dipindah ke akhir antrian siap. Ini dipakai di Linux sejak versi 2.6."
    report = checker.check(answer, SOURCES)
    assert [s.supported for s in report.sentences] == [True, False]
    assert report.without_unsupported() == "Proses dipindah ke akhir antrian siap."
    assert report.kept_answer(min_words=5) == "Proses dipindah ke akhir antrian siap."
    assert report.kept_answer(min_words=8) is None  # too little left: answer "not covered"
    assert report.kept_answer(min_words=5, min_share=0.6) is None  # mostly the model's own


def test_other_language_answers_are_not_judged_on_words() -> None:
    english = ["The loop repeats the body while the condition stays true, 3 times here."]
    report = GroundingChecker().check(
        "Perulangan mengulang badan selama kondisi benar.", english, "id"
    )
    assert not report.judged and report.grounded
    numbers = GroundingChecker().check("Perulangan diulang 17 kali.", english, "id")
    assert not numbers.grounded and numbers.sentences[0].missing_numbers == ("17",)


def test_sentence_split_handles_lists() -> None:
    assert split_sentences("Ada dua jenis:\n- satu.\n- dua (hal. 3). Selesai!") == [
        "Ada dua jenis:", "- satu.", "- dua (hal. 3).", "Selesai!",
    ]  # fmt: skip
