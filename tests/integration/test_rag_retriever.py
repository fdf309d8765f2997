"""The course-scoped retriever on real Redis Stack with the local embedding model: both legs keep
to the course and never cite tables of contents or indexes, the lexical leg reads the same filter
as the vector store builds, and extra queries (the cross-lingual seam) are fused into one list."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence

import pytest
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from redisvl.index import AsyncSearchIndex, SearchIndex

from app.core.config import Settings
from app.core.embeddings import LocalE5Embedding
from app.core.knowledge import KnowledgeKeys, build_vector_store, chunk_schema
from app.core.redis import async_client, sync_client
from app.rag import nodes as facts
from app.rag.legs import ChunkIndex, Leg
from app.rag.lexical_leg import InProcessLexicalLeg
from app.rag.retriever import CourseRetriever
from app.rag.scope import CourseScope, redis_filter, scope_filters
from app.rag.score_fusion import Fusion, ScoredList, zscore_fuse
from app.services.lexical import normalize_question
from app.services.query_parts import build_lexical_cache
from app.services.versions import VersionReader
from tests.conftest import SettingsFactory
from tests.support.slow_redis import slow_redis

pytestmark = pytest.mark.integration

CHUNKS = [  # (course, chunk type, text)
    ("net_a", "text", "Router meneruskan paket antar jaringan berdasarkan alamat IP tujuan."),
    ("net_a", "text", "Switch menghubungkan perangkat dalam satu jaringan lokal (LAN)."),
    ("net_a", "toc", "Daftar isi: Router 3, Switch 5, Firewall 9, Alamat IP 12"),
    ("net_a", "index", "Indeks: alamat IP 12, router 3, paket 4, switch 5"),
    ("net_b", "text", "Router meneruskan paket antar jaringan berdasarkan alamat IP tujuan paket."),
    ("net_b", "text", "Firewall menyaring lalu lintas jaringan menurut aturan keamanan."),
]
QUESTION = "Apa fungsi router dalam meneruskan paket?"


@pytest.fixture(scope="module")
def model() -> LocalE5Embedding:
    return LocalE5Embedding()


@pytest.fixture
async def chunks(
    make_settings: SettingsFactory, model: LocalE5Embedding
) -> AsyncIterator[tuple[Settings, ChunkIndex]]:
    settings = make_settings()
    sync = sync_client(settings.redis_knowledge_url, 5)
    client = async_client(settings.redis_knowledge_url, 5)
    SearchIndex(chunk_schema(settings), redis_client=sync).create(overwrite=False)
    store = build_vector_store(settings, sync, client)
    vectors = model.get_text_embedding_batch([text for _, _, text in CHUNKS])
    nodes = [
        TextNode(
            id_=f"{course}:m:{i}:1",
            text=text,
            embedding=vector,
            metadata={
                "course_id": course,
                "material_id": "m",
                "filename": f"{course}.pdf",
                "title": "",
                "page": i + 1,
                "page_label": str(i + 1),
                "position": 1,
                "chunk_type": kind,
            },
        )
        for i, ((course, kind, text), vector) in enumerate(zip(CHUNKS, vectors, strict=True))
    ]
    store.add(nodes)
    index = AsyncSearchIndex(chunk_schema(settings), redis_client=client)
    yield settings, ChunkIndex(store, index)
    await client.aclose()
    sync.close()


def bundle(model: LocalE5Embedding, text: str) -> QueryBundle:
    return QueryBundle(text, embedding=model.get_query_embedding(normalize_question(text)))


@pytest.mark.parametrize("hybrid", [False, True])
async def test_both_legs_keep_to_the_course_and_skip_toc_and_index(
    chunks: tuple[Settings, ChunkIndex], model: LocalE5Embedding, hybrid: bool
) -> None:
    _, index = chunks
    for course, expected in (("net_a", {"net_a:m:0:1", "net_a:m:1:1"}), ("net_b", None)):
        retriever = CourseRetriever(index, CourseScope(course), 10, hybrid, 5.0)
        found = await retriever.aretrieve(bundle(model, QUESTION))
        assert {facts.meta(n, "course_id") for n in found} == {course}
        assert {facts.meta(n, "chunk_type") for n in found} == {"text"}
        if expected is not None:
            assert {n.node.node_id for n in found} == expected
        assert found[0].node.get_content().startswith("Router meneruskan paket")
        assert all(0.0 <= facts.distance(n) < 1.0 for n in found)
        assert all(facts.rank(n, "dense") for n in found)
    everything = await CourseRetriever(index, CourseScope(None), 10, hybrid, 5.0).aretrieve(
        bundle(model, QUESTION)
    )
    assert {facts.meta(n, "course_id") for n in everything} == {"net_a", "net_b"}
    assert {facts.meta(n, "chunk_type") for n in everything} == {"text"}


@pytest.mark.parametrize("hybrid", [False, True])
async def test_a_set_of_courses_gets_chunks_of_those_courses_only(
    chunks: tuple[Settings, ChunkIndex], model: LocalE5Embedding, hybrid: bool
) -> None:
    _, index = chunks
    text = "Router meneruskan paket antar jaringan berdasarkan alamat IP tujuan (kursus C)."
    meta = {"course_id": "net_c", "material_id": "m", "filename": "c.pdf", "title": "", "page": 1,
            "page_label": "1", "chunk_type": "text", "position": 1}  # fmt: skip
    node = TextNode(id_="net_c:m:0:1", text=text, embedding=model.get_text_embedding(text),
                    metadata=meta)  # fmt: skip
    index.store.add([node])
    scope = CourseScope(frozenset({"net_a", "net_b"}))
    found = await CourseRetriever(index, scope, 10, hybrid, 5.0).aretrieve(bundle(model, QUESTION))
    assert {facts.meta(n, "course_id") for n in found} == {"net_a", "net_b"}
    assert {facts.meta(n, "chunk_type") for n in found} == {"text"}
    only_c = await CourseRetriever(index, CourseScope("net_c"), 10, hybrid, 5.0).aretrieve(
        bundle(model, QUESTION)
    )
    assert [n.node.node_id for n in only_c] == ["net_c:m:0:1"]  # it is there, just not in scope


async def test_lexical_hits_outside_the_dense_list_are_read_with_their_distance(
    chunks: tuple[Settings, ChunkIndex], model: LocalE5Embedding
) -> None:
    _, index = chunks
    near = model.get_query_embedding("resep nasi goreng")
    text = "Firewall menyaring lalu lintas jaringan menurut aturan keamanan."
    far = model.get_text_embedding(text)
    meta = {"course_id": "net_c", "material_id": "m", "filename": "c.pdf", "title": "", "page": 1,
            "page_label": "1", "chunk_type": "text"}  # fmt: skip
    fillers = [  # the dense pool (20) is all fillers: right on the query's vector
        TextNode(
            id_=f"net_c:m:1:{i}",
            text=f"Catatan {i}.",
            embedding=[v + i * 1e-4 for v in near],
            metadata={**meta, "position": i},
        )
        for i in range(1, 23)
    ]
    wall = TextNode(id_="net_c:m:2:1", text=text, embedding=far, metadata={**meta, "position": 1})
    index.store.add([*fillers, wall])
    retriever = CourseRetriever(index, CourseScope("net_c"), 3, True, 5.0)
    found = await retriever.aretrieve(QueryBundle("firewall", embedding=near))
    read = next(n for n in found if n.node.node_id == "net_c:m:2:1")
    assert facts.rank(read, "lexical") == 1 and facts.rank(read, "dense") is None
    assert read.node.get_content() == text and facts.meta(read, "course_id") == "net_c"
    cosine = sum(a * b for a, b in zip(near, far, strict=True)) / (
        sum(a * a for a in near) ** 0.5 * sum(b * b for b in far) ** 0.5
    )
    assert facts.distance(read) == pytest.approx(1.0 - cosine, abs=1e-4)
    assert len(found) == 3 and found[0].node.node_id == "net_c:m:1:1"  # fused: dense 1st, then it


def test_lexical_leg_reads_the_filter_the_vector_store_builds(
    chunks: tuple[Settings, ChunkIndex],
) -> None:
    _, index = chunks
    both = CourseScope(frozenset({"net_b", "net_a"}))
    for scope in (CourseScope("net_a"), CourseScope("course.tik-01"), CourseScope(None), both):
        filters = scope_filters(scope)
        ours = str(redis_filter(filters))
        theirs = str(index.store._create_redis_filter_expression(filters))
        assert ours == theirs


class Translate:
    """A fixed 'translation' of the question: what a cross-lingual expander returns."""

    def __init__(self, model: LocalE5Embedding, text: str) -> None:
        self.query = bundle(model, text)

    async def expand(self, query: QueryBundle, scope: CourseScope) -> Sequence[QueryBundle]:
        return [self.query]


async def test_extra_queries_are_searched_and_fused_inside_the_retriever(
    chunks: tuple[Settings, ChunkIndex], model: LocalE5Embedding
) -> None:
    _, index = chunks
    english = Translate(model, "What does a switch connect in a local network?")
    retriever = CourseRetriever(index, CourseScope("net_a"), 2, False, 5.0, expander=english)
    found: list[NodeWithScore] = await retriever.aretrieve(bundle(model, QUESTION))
    assert [n.node.node_id for n in found] == ["net_a:m:0:1", "net_a:m:1:1"]
    for node in found:  # ranked by both queries, fused by reciprocal rank
        assert facts.rank(node, "dense") in (1, 2) and facts.rank(node, "dense1") in (1, 2)
    switch = found[1]
    assert facts.rank(switch, "dense1") == 1 and facts.rank(switch, "dense") == 2


def test_sync_retrieval_is_refused_clearly(chunks: tuple[Settings, ChunkIndex]) -> None:
    _, index = chunks
    with pytest.raises(NotImplementedError, match="async only"):
        CourseRetriever(index, CourseScope("net_a"), 2, False, 5.0).retrieve("router")


async def test_in_process_lexical_leg_keeps_to_the_course_and_its_chunk_types(
    chunks: tuple[Settings, ChunkIndex], model: LocalE5Embedding
) -> None:
    settings, index = chunks
    client = index.search_index.client
    assert client is not None
    versions = VersionReader(client, KnowledgeKeys.from_settings(settings), 5.0)
    cache = build_lexical_cache(settings, client, versions)
    bm25 = ChunkIndex(index.store, index.search_index, InProcessLexicalLeg(cache, 1.25, 30.0))
    question = bundle(model, "Firewall menyaring lalu lintas menurut aturan keamanan?")
    try:
        # "firewall" is in net_b's text and in net_a's table of contents only
        in_b = await CourseRetriever(bm25, CourseScope("net_b"), 10, True, 5.0).aretrieve(question)
        firewall = next(n for n in in_b if n.node.node_id == "net_b:m:5:1")
        assert facts.rank(firewall, "lexical") == 1
        in_a = await CourseRetriever(bm25, CourseScope("net_a"), 10, True, 5.0).aretrieve(question)
        assert {facts.meta(n, "course_id") for n in in_a} == {"net_a"}
        assert {facts.meta(n, "chunk_type") for n in in_a} == {"text"}
        assert all(facts.rank(n, "lexical") is None for n in in_a)  # its toc is never a hit
        router = await CourseRetriever(bm25, CourseScope("net_a"), 10, True, 5.0).aretrieve(
            bundle(model, QUESTION)
        )
        assert facts.rank(router[0], "lexical") == 1 and facts.rank(router[0], "dense") == 1
        # a token's course set: each course's BM25 is searched, and only those courses'
        both = CourseScope(frozenset({"net_a", "net_b"}))
        in_set = await CourseRetriever(bm25, both, 10, True, 5.0).aretrieve(question)
        assert {facts.meta(n, "course_id") for n in in_set} <= {"net_a", "net_b"}
        firewall = next(n for n in in_set if n.node.node_id == "net_b:m:5:1")
        assert facts.rank(firewall, "lexical") == 1
        assert all(
            facts.rank(n, "lexical") is None
            for n in in_set
            if facts.meta(n, "chunk_type") != "text"
        )
        anywhere = await CourseRetriever(bm25, CourseScope(None), 10, True, 5.0).aretrieve(question)
        assert all(facts.rank(n, "lexical") is None for n in anywhere)  # no course, no BM25
    finally:
        await cache.aclose()


class WholeNodeFusion(ChunkIndex):
    """The fused search as it was before the dense leg named ids only: the vector store's whole
    nodes (text, LlamaIndex JSON, distance) for the pool, the reference for the id-only leg."""

    def legs(self, lexical: bool, versions: Mapping[str, str] | None = None) -> list[Leg]:
        return [self.dense, *super().legs(lexical, versions)[1:]]


def _facts(found: Sequence[NodeWithScore]) -> list[tuple[object, ...]]:
    return [
        (n.node.node_id, n.score, n.node.get_content(), sorted(n.node.metadata.items()),
         sorted(n.node.excluded_llm_metadata_keys))
        for n in found
    ]  # fmt: skip


@pytest.mark.parametrize("fusion", ["rrf", "zscore"])
async def test_a_fused_search_reads_only_the_kept_chunks_and_ranks_as_with_whole_nodes(
    chunks: tuple[Settings, ChunkIndex], model: LocalE5Embedding, fusion: Fusion
) -> None:
    settings, index = chunks
    client = index.search_index.client
    assert client is not None
    cache = build_lexical_cache(
        settings, client, VersionReader(client, KnowledgeKeys.from_settings(settings), 5.0)
    )
    lexical = InProcessLexicalLeg(cache, 1.25, 30.0)
    ours = ChunkIndex(index.store, index.search_index, lexical, fusion)
    reference = WholeNodeFusion(index.store, index.search_index, lexical, fusion)
    english = Translate(model, "What does a firewall filter in a network?")
    questions = [QUESTION, "Firewall menyaring lalu lintas?", "switch LAN", "alamat IP tujuan"]
    try:
        for text in questions:
            for hybrid, expander, k in ((True, None, 3), (True, english, 4), (False, english, 2)):
                for course in ("net_a", "net_b", frozenset({"net_a", "net_b"})):
                    scope = CourseScope(course)
                    got = await CourseRetriever(ours, scope, k, hybrid, 5.0, expander, 3).aretrieve(
                        bundle(model, text)
                    )
                    want = await CourseRetriever(
                        reference, scope, k, hybrid, 5.0, expander, 3
                    ).aretrieve(bundle(model, text))
                    assert got and _facts(got) == _facts(want)
                    assert all(facts.distance(n) < 1.0 for n in got)
        # the id-only dense leg ranks exactly as the vector store, with the same distances
        question = bundle(model, QUESTION)
        for scope in (CourseScope("net_a"), CourseScope(None)):
            filters = scope_filters(scope)
            ranked = await ours.legs(False)[0].search(question, filters, 4)
            whole = await ours.dense.search(question, filters, 4)
            assert [(r.node_id, r.distance, r.node) for r in ranked] == [
                (w.node_id, facts.distance(w.node), None) for w in whole if w.node is not None
            ]
    finally:
        await cache.aclose()


async def test_zscore_fusion_ranks_by_the_legs_own_scores(
    chunks: tuple[Settings, ChunkIndex], model: LocalE5Embedding
) -> None:
    settings, index = chunks
    client = index.search_index.client
    assert client is not None
    versions = VersionReader(client, KnowledgeKeys.from_settings(settings), 5.0)
    cache = build_lexical_cache(settings, client, versions)
    leg = InProcessLexicalLeg(cache, 1.25, 30.0)
    by_score = ChunkIndex(index.store, index.search_index, leg, fusion="zscore")
    by_rank = ChunkIndex(index.store, index.search_index, leg, fusion="rrf")
    question = bundle(model, "Firewall menyaring lalu lintas menurut aturan keamanan?")
    scope = CourseScope("net_b")
    try:
        found = await CourseRetriever(by_score, scope, 10, True, 5.0).aretrieve(question)
        # the legs' own lists, as the retriever asks them (pool 20), with their scores
        filters = scope_filters(scope)
        dense = by_score.legs(lexical=True)[0]
        lists = [await dense.search(question, filters, 20), await leg.search(question, filters, 20)]
        assert all(hit.score is not None for ranked in lists for hit in ranked)
        assert lists[0][0].score == pytest.approx(1.0 - (lists[0][0].distance or 0.0))
        assert len(lists[1]) < 20  # BM25 listed every chunk it matched: the rest score 0
        expected = zscore_fuse(
            [
                ScoredList(weight, [(hit.node_id, hit.score or 0.0) for hit in ranked], 0.0)
                for weight, ranked in zip((1.0, 1.25), lists, strict=True)
            ]
        )
        assert [n.node.node_id for n in found] == sorted(expected, key=lambda i: -expected[i])
        assert [n.score for n in found] == pytest.approx([expected[n.node.node_id] for n in found])
        assert found[0].node.node_id == "net_b:m:5:1"  # the firewall chunk, first in both legs
        # the same legs by reciprocal rank: the same chunks, scored 1/(60 + rank) per list
        ranked = await CourseRetriever(by_rank, scope, 10, True, 5.0).aretrieve(question)
        assert {n.node.node_id for n in ranked} == set(expected)
        first = ranked[0]
        assert first.score == pytest.approx(
            1.0 / (60 + facts.rank(first, "dense")) + 1.25 / (60 + facts.rank(first, "lexical"))
        )
    finally:
        await cache.aclose()


async def test_a_leg_without_scores_is_fused_by_rank_even_with_zscore_fusion(
    chunks: tuple[Settings, ChunkIndex], model: LocalE5Embedding
) -> None:
    _, index = chunks  # RediSearch's BM25 returns ids only
    legacy = ChunkIndex(index.store, index.search_index, fusion="zscore")
    found = await CourseRetriever(legacy, CourseScope("net_a"), 10, True, 5.0).aretrieve(
        bundle(model, QUESTION)
    )
    top = found[0]
    assert top.node.node_id == "net_a:m:0:1"
    assert top.score == pytest.approx(
        1.0 / (60 + facts.rank(top, "dense")) + 1.0 / (60 + facts.rank(top, "lexical"))
    )


async def test_each_redis_step_of_a_fused_search_has_the_whole_timeout(
    chunks: tuple[Settings, ChunkIndex], model: LocalE5Embedding
) -> None:
    """The searches and the read of the kept chunks are two round trips; on a starved event loop
    the time between and around them is not Redis being slow, so each gets the timeout of its
    own. Every reply here is held back 0.5 s: each step takes ~0.5 s, both together ~1 s."""
    settings, index = chunks
    question = bundle(model, QUESTION)
    async with slow_redis(settings.redis_knowledge_url) as (proxy, url):
        client = async_client(url, 5)
        try:
            # the fused search reads through the search index alone (the store is for dense-only)
            slow = ChunkIndex(
                index.store, AsyncSearchIndex(chunk_schema(settings), redis_client=client)
            )
            retriever = CourseRetriever(slow, CourseScope("net_a"), 2, True, 0.95)
            assert await retriever.aretrieve(question)  # connections made, replies not held
            proxy.delay = 0.5
            found = await retriever.aretrieve(question)
            assert {n.node.node_id for n in found} == {"net_a:m:0:1", "net_a:m:1:1"}
            assert found[0].node.get_content().startswith("Router meneruskan paket")
        finally:
            await client.aclose()
