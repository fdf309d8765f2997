from __future__ import annotations

import math

import pytest

from app.rag.analysis import Analyzer, Stemming, dominant_language
from app.rag.bm25 import BM25
from app.rag.fusion import fuse_nodes, rrf
from app.rag.lexical_index import ChunkDoc, CourseLexicalIndex


def doc(i: int, text: str, page: int | None = None) -> ChunkDoc:
    meta = {"course_id": "c", "filename": "m.pdf", "page": page or i, "chunk_type": "text"}
    return ChunkDoc(f"c:m:{i}", text, meta)


OS_COURSE = [
    doc(1, "Sistem operasi adalah perangkat lunak yang mengelola perangkat keras komputer."),
    doc(2, "Sistem operasi menjadwalkan proses. Penjadwalan proses memakai algoritma round robin."),
    doc(3, "Sistem operasi mengatur memori. Pengelolaan memori virtual memakai halaman."),
    doc(4, "Sistem operasi dan berkas: sistem berkas menyimpan data pada disk."),
]


def test_bm25_scores_match_the_formula() -> None:
    index = BM25([["a", "b"], ["a"], ["c", "c", "a"]], k1=1.2, b=0.75)
    idf_c = math.log(1 + (3 - 1 + 0.5) / (1 + 0.5))
    avg = 2.0
    expected = idf_c * 2 * 2.2 / (2 + 1.2 * (1 - 0.75 + 0.75 * 3 / avg))
    assert index.scores(["c"])[2] == pytest.approx(expected, rel=1e-5)
    assert index.top(["c"], 5) == [(2, pytest.approx(expected, rel=1e-5))]
    assert index.top(["zzz"], 5) == []  # nothing matches: no zero-score filler
    assert index.idf("a") > 0  # a term in every document never gets a negative weight


def test_per_course_idf_ignores_words_every_page_repeats() -> None:
    index = CourseLexicalIndex.build("c", "v1", OS_COURSE, Analyzer(Stemming.NONE))
    hits = index.search("sistem operasi penjadwalan proses", k=4)
    assert hits[0].node.node_id == "c:m:2"
    # "sistem operasi" is on every page: it adds (almost) nothing to the ranking
    assert index.bm25.idf("sistem") < index.bm25.idf("penjadwalan") / 3
    assert hits[0].node.metadata["page"] == 2 and hits[0].score and hits[0].score > 0


def test_indonesian_stemming_matches_derived_words() -> None:
    plain = CourseLexicalIndex.build("c", "v", OS_COURSE, Analyzer(Stemming.NONE))
    stemmed = CourseLexicalIndex.build("c", "v", OS_COURSE, Analyzer(Stemming.SASTRAWI))
    question = "bagaimana cara mengelola memori?"
    assert plain.coverage(question, "c:m:3") < 1.0  # "mengelola" is not "pengelolaan"
    assert stemmed.search(question, 1)[0].node.node_id == "c:m:3"  # kelola ~ pengelolaan
    assert stemmed.coverage(question, "c:m:3") == pytest.approx(1.0)


def test_analyzer_drops_function_words_chatter_and_splits_hyphens() -> None:
    analyzer = Analyzer(Stemming.NONE)
    assert analyzer.query_terms("Apa itu proses-proses di OS? jelasin dong kak") == ["proses", "os"]
    assert analyzer.terms("The half-duplex link", "en") == ["half", "duplex", "link"]
    assert Analyzer(Stemming.SNOWBALL).terms("running loops", "en") == ["run", "loop"]


def test_course_language_comes_from_its_chunks() -> None:
    english = [doc(1, "The loop runs while the condition is true and then it stops.")]
    index = CourseLexicalIndex.build("c", "v", OS_COURSE + english, Analyzer())
    assert index.language == "id"
    assert index.language_share("en") == pytest.approx(0.2)
    assert dominant_language(["This is the book about Python programs."]) == "en"


def test_rrf_weights_and_ties() -> None:
    assert [k for k, _ in rrf([["a", "b"], ["b", "c"]])] == ["b", "a", "c"]
    assert next(k for k, _ in rrf([["a", "b"], ["b", "a"]], weights=[2.0, 1.0])) == "a"
    with pytest.raises(ValueError, match="one weight"):
        rrf([["a"]], weights=[1.0, 2.0])


def test_fuse_nodes_keeps_one_node_per_id() -> None:
    a = doc(1, "x").node(0.9)
    b = doc(2, "y").node(3.0)
    a_again = doc(1, "x").node(7.0)
    fused = fuse_nodes([[a, b], [a_again]])
    assert [n.node.node_id for n in fused] == ["c:m:1", "c:m:2"]
    assert fused[0].node is a.node and fused[0].score == pytest.approx(2 / 61)


async def test_in_process_leg_follows_the_scope_filters() -> None:
    from llama_index.core.schema import QueryBundle

    from app.rag.lexical_index import LexicalIndexCache
    from app.rag.lexical_leg import InProcessLexicalLeg
    from app.rag.scope import CourseScope, scope_filters

    courses = {"os": OS_COURSE, "other": [doc(9, "Penjadwalan rapat dosen setiap minggu.")]}

    async def load(course_id: str) -> list[ChunkDoc]:
        return courses[course_id]

    async def version(course_id: str) -> str:
        return "v1"

    cache = LexicalIndexCache(load, version, Analyzer(Stemming.SASTRAWI))
    leg = InProcessLexicalLeg(cache)
    query = QueryBundle("bagaimana penjadwalan proses?")
    assert await leg.search(query, scope_filters(CourseScope("os")), 5) == []  # still building
    await cache.get("os")
    ranked = await leg.search(query, scope_filters(CourseScope("os")), 5)
    assert ranked[0].node_id == "c:m:2" and all(r.node_id.startswith("c:m:") for r in ranked)
    assert "c:m:9" not in {r.node_id for r in ranked}  # the other course's chunk never appears
    assert await leg.search(query, scope_filters(CourseScope(None)), 5) == []
    await cache.aclose()


async def test_a_leg_at_the_questions_versions_reads_no_version_and_rebuilds_on_a_new_one() -> None:
    from llama_index.core.schema import QueryBundle

    from app.rag.lexical_index import LexicalIndexCache
    from app.rag.lexical_leg import InProcessLexicalLeg
    from app.rag.scope import CourseScope, scope_filters

    reads: list[str] = []
    current = {"os": "v1"}

    async def load(course_id: str) -> list[ChunkDoc]:
        return OS_COURSE

    async def version(course_id: str) -> str:
        reads.append(course_id)
        return current[course_id]

    cache = LexicalIndexCache(load, version, Analyzer(Stemming.SASTRAWI))
    built = await cache.get("os")
    reads.clear()
    leg = InProcessLexicalLeg(cache, wait=5.0)
    query = QueryBundle("bagaimana penjadwalan proses?")
    scope = CourseScope("os").at({"os": "v1"})
    ranked = await leg.at(scope.versions).search(query, scope_filters(scope), 5)
    assert ranked[0].node_id == "c:m:2" and reads == []  # the question's version, not re-read
    assert await cache.ready("os", version="v1") is built and reads == []
    # a version the question saw after ingestion bumped it: the previous index answers while
    # that version's builds
    current["os"] = "v2"
    assert await cache.ready("os", wait=5.0, version="v2") is built
    rebuilt = await cache.get("os")
    assert rebuilt.version == "v2" and await cache.ready("os", version="v2") is rebuilt
    await leg.search(query, scope_filters(CourseScope("os")), 5)  # no versions: it reads
    assert "os" in reads
    await cache.aclose()
