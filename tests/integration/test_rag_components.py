"""The query path components against real services: Redis Stack (the sample course ingested under
a test prefix), the scripted OpenAI-compatible server for translation and reranking."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from app.core.knowledge import KnowledgeKeys, chunk_schema
from app.rag.analysis import Analyzer, Stemming
from app.rag.crosslingual import CachedTranslator, CrossLingualRetriever, LLMTranslator
from app.rag.lexical_index import LexicalIndexCache, load_course_chunks
from app.rag.rerank import LLMChoiceRerank
from app.rag.scope import NOT_ANSWERS
from app.services.llm import build_llm
from app.services.versions import VersionReader
from tests.conftest import SettingsFactory
from tests.support.scripted_openai import Reply, ScriptedOpenAI
from tests.support.settings import REDIS_URL, isolated_settings

pytestmark = pytest.mark.integration


@pytest.fixture
async def redis_client() -> Any:
    client = aioredis.Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


async def test_lexical_index_loads_a_course_from_redis_and_follows_its_version(
    sample_index: str, redis_client: aioredis.Redis, tmp_path: Any
) -> None:
    settings = isolated_settings(sample_index, tmp_path)
    schema = chunk_schema(settings)
    key_prefix = schema.index.prefix + schema.index.key_separator
    loads: list[str] = []

    async def load(course_id: str) -> list[Any]:
        loads.append(course_id)
        return await load_course_chunks(
            redis_client, schema.index.name, key_prefix, course_id, frozenset(NOT_ANSWERS), 5.0
        )

    versions = VersionReader(redis_client, KnowledgeKeys.from_settings(settings), 5.0)
    cache = LexicalIndexCache(load, versions.get, Analyzer(Stemming.SASTRAWI))
    assert await cache.ready("course_tik_01") is None  # building in the background: dense only
    index = await cache.get("course_tik_01")  # waits for that same build
    assert await cache.ready("course_tik_01") is index
    assert index.language == "id" and len(index.docs) > 20
    assert {d.metadata["course_id"] for d in index.docs} == {"course_tik_01"}  # never course B
    assert all(d.metadata["chunk_type"] not in NOT_ANSWERS for d in index.docs)
    hits = index.search("apa itu metode MoSCoW dalam prioritas kebutuhan?", 3)
    assert hits and "moscow" in hits[0].node.get_content().lower()
    assert hits[0].node.node_id.startswith("course_tik_01:")
    stored = await redis_client.hget(key_prefix + hits[0].node.node_id, "text")
    assert stored is not None  # node ids are the dense leg's ids: fusion can match them
    assert (await cache.get("course_tik_01")) is index and loads == ["course_tik_01"]
    english = await cache.get("course_net_en_01")
    assert english.language == "en" and loads == ["course_tik_01", "course_net_en_01"]
    version_key = KnowledgeKeys.from_settings(settings).version("course_tik_01")
    old = await redis_client.get(version_key)
    try:
        await redis_client.set(version_key, "changed-by-ingest")
        assert await cache.ready("course_tik_01") is index  # the old one serves while rebuilding
        rebuilt = await cache.get("course_tik_01")
        assert rebuilt is not index and rebuilt.version == "changed-by-ingest"
        assert loads.count("course_tik_01") == 2
    finally:
        await redis_client.set(version_key, old)
        await cache.aclose()


async def test_the_questions_version_read_gives_each_courses_own_in_one_read(
    sample_index: str, redis_client: aioredis.Redis, tmp_path: Any
) -> None:
    keys = KnowledgeKeys.from_settings(isolated_settings(sample_index, tmp_path))
    versions = VersionReader(redis_client, keys, 5.0)
    tik, net = "course_tik_01", "course_net_en_01"
    for scope in (tik, frozenset({tik}), frozenset({tik, net}), frozenset({tik, "nothing"}), None):
        combined, each = await versions.each(scope)
        assert combined == await versions.get(scope)  # the cache scope's version is unchanged
        for course, version in each.items():
            assert version == await versions.get(course)  # what the lexical leg would read
    assert set((await versions.each(frozenset({tik, net})))[1]) == {tik, net}
    assert (await versions.each(frozenset({tik, "nothing"})))[1]["nothing"] == "empty"
    assert tik in (await versions.each(None))[1]


def _llm(settings_factory: SettingsFactory, server: ScriptedOpenAI, http: httpx.AsyncClient) -> Any:
    settings = settings_factory(openai_api_key="sk-test", openai_api_base=server.base_url)
    return build_llm(settings, "gpt-4o-mini", http)


async def test_translation_goes_through_the_llm_once_then_the_cache(
    make_settings: SettingsFactory, scripted_llm: ScriptedOpenAI, prefix: str,
    redis_client: aioredis.Redis,
) -> None:  # fmt: skip
    scripted_llm.script(Reply.from_text("Translation: What is a loop in Python?", prompt_tokens=40))
    async with httpx.AsyncClient() as http:
        translator = CachedTranslator(
            LLMTranslator(_llm(make_settings, scripted_llm, http), 5.0),
            redis_client, f"{prefix}:xlate:gpt-4o-mini", 60, 2.0,
        )  # fmt: skip
        first = await translator.translate("Apa itu perulangan di Python?", "id", "en")
        again = await translator.translate("apa itu perulangan di python", "id", "en")
    assert first.text == "What is a loop in Python?" and first.method == "llm"
    assert first.usage is not None and first.usage.input_tokens == 40
    assert again.text == first.text and again.method == "cache"  # same normalized question
    assert len(scripted_llm.chat_requests) == 1
    request = scripted_llm.chat_requests[0]["messages"]
    assert "from Indonesian into English" in request[0]["content"]
    assert request[1]["content"] == "Apa itu perulangan di Python?"
    assert await redis_client.ttl(translator.key("Apa itu perulangan di Python?", "id", "en")) > 0


class ListRetriever(BaseRetriever):
    """A retriever that answers from fixed lists per query text (the legs under test are real)."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        super().__init__()
        self.answers = answers
        self.asked: list[QueryBundle] = []

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        self.asked.append(query_bundle)
        ids = self.answers.get(query_bundle.query_str, [])
        return [NodeWithScore(node=TextNode(id_=i, text=i), score=1.0) for i in ids]


async def test_crosslingual_retriever_fuses_the_translated_search(
    make_settings: SettingsFactory, scripted_llm: ScriptedOpenAI
) -> None:
    inner = ListRetriever({
        "apa itu perulangan?": ["p9", "p4"],
        "What is a loop?": ["p4", "p7"],
    })  # fmt: skip
    vectors: list[str] = []

    async def embed(text: str) -> list[float]:
        vectors.append(text)
        return [0.1, 0.2]

    scripted_llm.script(Reply.from_text("What is a loop?"))
    async with httpx.AsyncClient() as http:
        translator = LLMTranslator(_llm(make_settings, scripted_llm, http), 5.0)
        english_book = CrossLingualRetriever(inner, translator, embed, {"en": 1.0})
        nodes = await english_book.aretrieve(QueryBundle("apa itu perulangan?", embedding=[1.0]))
        assert [n.node.node_id for n in nodes] == ["p4", "p9", "p7"]  # p4 is in both lists
        assert vectors == ["what is a loop"] and inner.asked[-1].embedding == [0.1, 0.2]
        assert english_book.translations[0].text == "What is a loop?"
        same_language = await english_book.aretrieve(
            QueryBundle("what is a loop?", embedding=[1.0])
        )
        assert same_language == [] and len(scripted_llm.chat_requests) == 1  # nothing to translate
        scripted_llm.script(Reply(status=500))
        failed = await english_book.aretrieve(QueryBundle("apa itu perulangan?", embedding=[1.0]))
        assert [n.node.node_id for n in failed] == ["p9", "p4"]  # the original search stands


def _nodes(*texts: str) -> list[NodeWithScore]:
    return [
        NodeWithScore(node=TextNode(id_=f"n{i}", text=t), score=1.0 / (i + 1))
        for i, t in enumerate(texts)
    ]


async def test_llm_rerank_reorders_keeps_the_rest_and_reports_usage(
    make_settings: SettingsFactory, scripted_llm: ScriptedOpenAI
) -> None:
    nodes = _nodes("daftar isi", "perulangan for mengulang perintah", "sejarah python")
    scripted_llm.script(
        Reply.from_text("Doc: 2, Relevance: 9\nDoc: 3, Relevance: 2", prompt_tokens=300)
    )
    async with httpx.AsyncClient() as http:
        rerank = LLMChoiceRerank(_llm(make_settings, scripted_llm, http), top_n=3, candidates=3)
        out = await rerank.apostprocess_nodes(nodes, QueryBundle("apa itu perulangan for?"))
        assert [n.node.node_id for n in out] == ["n1", "n2", "n0"]
        assert out[0].score == 9.0 and rerank.last_picked == 2
        assert rerank.last_usage[0].input_tokens == 300
        prompt = scripted_llm.chat_requests[0]["messages"][1]["content"]
        assert "Document 2:\nperulangan for" in prompt and "apa itu perulangan for?" in prompt

        scripted_llm.script(Reply.from_text("None of the documents are relevant. Doc: none"))
        none = await rerank.apostprocess_nodes(nodes, QueryBundle("resep rendang?"))
        assert rerank.last_picked == 0 and [n.node.node_id for n in none] == ["n0", "n1", "n2"]

        scripted_llm.script(Reply(status=503))
        kept = await rerank.apostprocess_nodes(nodes, QueryBundle("apa itu perulangan for?"))
        assert [n.node.node_id for n in kept] == ["n0", "n1", "n2"] and rerank.last_picked is None
