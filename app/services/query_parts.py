"""The query path's parts, built from the settings: one builder for the server and the evaluation.

Which lexical leg is fused with dense (``RAG_LEXICAL``, or the legacy ``RAG_HYBRID``) and how
(``RAG_FUSION``), whether the question is also searched in the material's language
(``RAG_CROSSLINGUAL``), whether an LLM reranks (``RAG_RERANK``), the refusal gate (``RAG_REFUSAL``,
``REFUSAL_*``) and the grounding check (``RAG_GROUNDING``) are decided here and nowhere else;
``evaluation.pipeline_eval`` measures exactly what this builds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import httpx
import redis.asyncio as aioredis
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.vector_stores.redis import RedisVectorStore
from redisvl.index import AsyncSearchIndex

from app.core.config import Settings
from app.core.knowledge import KnowledgeKeys, chunk_schema
from app.protocol.messages import UsageItem
from app.rag.analysis import Analyzer, Stemming
from app.rag.chain import build_chain
from app.rag.checks import GroundingCheck, RefusalGate
from app.rag.crosslingual import (
    CachedTranslator,
    CrossLingualExpander,
    GlossaryTranslator,
    LanguagesOf,
    LLMTranslator,
    Translator,
)
from app.rag.engine import (
    AnswerCheck,
    CourseQueryEngine,
    QueryExtras,
    RefusalCheck,
    RerankFactory,
    RetrievalConfig,
)
from app.rag.glossary import Glossary
from app.rag.grounding import GroundingChecker
from app.rag.legs import ChunkIndex, LexicalLeg
from app.rag.lexical_index import ChunkDoc, LexicalIndexCache, load_course_chunks
from app.rag.lexical_leg import InProcessLexicalLeg
from app.rag.refusal import RefusalRule
from app.rag.rerank import LLMChoiceRerank
from app.rag.scope import NOT_ANSWERS
from app.rag.synthesizer import StreamingSynthesizer
from app.services.llm import PromptCounter, Usage, build_llm
from app.services.prompt import AnswerPrompt
from app.services.usage import Purpose, usage_item
from app.services.versions import VersionReader

LANGUAGES = ("id", "en")


@dataclass(frozen=True)
class QueryParts:
    """What the query engine is built from (``lexical`` is kept for the evaluation's report)."""

    chunks: ChunkIndex
    hybrid: bool
    lexical: LexicalIndexCache | None
    extras: QueryExtras
    checks: tuple[AnswerCheck, ...]


def build_lexical_cache(
    settings: Settings, client: aioredis.Redis, versions: VersionReader
) -> LexicalIndexCache:
    """Per-course BM25 indexes read from the chunk index, rebuilt on a new content version."""
    schema = chunk_schema(settings)
    key_prefix = schema.index.prefix + schema.index.key_separator
    timeout = settings.redis_timeout_seconds

    async def load(course_id: str) -> list[ChunkDoc]:
        return await load_course_chunks(
            client, schema.index.name, key_prefix, course_id, frozenset(NOT_ANSWERS), timeout
        )

    analyzer = Analyzer(Stemming(settings.rag_lexical_stemming))
    return LexicalIndexCache(load, versions.get, analyzer, settings.rag_lexical_max_courses)


def _translator(
    settings: Settings,
    client: aioredis.Redis,
    http: httpx.AsyncClient,
    counter: PromptCounter | None,
) -> tuple[Translator | None, str]:
    if settings.rag_crosslingual == "glossary":
        return GlossaryTranslator(Glossary.default()), ""
    if settings.rag_crosslingual == "llm":
        llm = build_llm(settings, settings.model_comprehensive, http)
        inner = LLMTranslator(llm, settings.rag_translation_timeout_seconds, counter)
        namespace = f"{settings.key_prefix}:xlate:{llm.model}"
        cached = CachedTranslator(
            inner,
            client,
            namespace,
            settings.rag_translation_cache_ttl_seconds,
            settings.redis_timeout_seconds,
        )
        return cached, str(llm.model)
    return None, ""


def _languages_of(
    settings: Settings, client: aioredis.Redis, lexical: LexicalIndexCache | None
) -> LanguagesOf:
    """A course's language shares: from its chunks (the BM25 index knows each chunk's language),
    else from course.yaml's ``language`` (written at ingest)."""
    keys = KnowledgeKeys.from_settings(settings)
    wait = settings.rag_lexical_build_wait_seconds

    async def languages_of(course_id: str, version: str | None) -> dict[str, float] | None:
        if lexical is not None:
            index = await lexical.ready(course_id, wait, version)
            if index is not None:
                return {lang: index.language_share(lang) for lang in LANGUAGES}
        raw = await client.get(keys.course_meta(course_id))
        try:
            language = str(json.loads(raw).get("language") or "") if raw else ""
        except (json.JSONDecodeError, AttributeError):
            language = ""
        return {language: 1.0} if language in LANGUAGES else None

    return languages_of


def build_query_parts(
    settings: Settings,
    *,
    embedding: BaseEmbedding,
    store: RedisVectorStore,
    index: AsyncSearchIndex,
    client: aioredis.Redis,
    versions: VersionReader,
    http: httpx.AsyncClient,
    counter: PromptCounter | None,
) -> QueryParts:
    kind = settings.lexical_leg
    lexical = build_lexical_cache(settings, client, versions) if kind == "bm25" else None
    if lexical is not None:
        leg = InProcessLexicalLeg(
            lexical, settings.rag_lexical_weight, settings.rag_lexical_build_wait_seconds
        )
        chunks = ChunkIndex(store, index, leg, settings.rag_fusion)
    else:
        chunks = ChunkIndex(store, index, LexicalLeg(index))
    translator, translation_model = _translator(settings, client, http, counter)
    expander = None
    if translator is not None:
        expander = CrossLingualExpander(
            translator,
            embedding.aget_query_embedding,
            _languages_of(settings, client, lexical),
            settings.rag_translation_timeout_seconds,
        )
    rerank = rerank_factory(settings, http, counter)

    gate = None
    if settings.rag_refusal:
        rule = RefusalRule(
            settings.refusal_max_distance,
            settings.refusal_lexical_distance,
            settings.refusal_min_coverage,
            settings.refusal_max_unknown,
        )
        gate = RefusalGate(rule, lexical)

    def price(purpose: Purpose, model: str, usage: Usage) -> UsageItem:
        return usage_item(
            settings, purpose, model, usage.input_tokens, usage.output_tokens, usage.counted
        )

    checks: list[AnswerCheck] = [RefusalCheck()]
    if settings.rag_grounding != "off":
        checker = GroundingChecker(
            Stemming(settings.rag_lexical_stemming), settings.grounding_min_support
        )
        checks.append(GroundingCheck(checker, settings.rag_grounding))
    extras = QueryExtras(expander, rerank, gate, price, translation_model)
    return QueryParts(chunks, kind != "off", lexical, extras, tuple(checks))


def rerank_factory(
    settings: Settings, http: httpx.AsyncClient, counter: PromptCounter | None
) -> RerankFactory | None:
    """A new ``LLMChoiceRerank`` per turn (it keeps its call's usage) when ``RAG_RERANK=llm``:
    the answer model picks among ``RAG_RERANK_CANDIDATES`` chunks (the engine retrieves that
    many) and the turn keeps ``RAG_TOP_K`` of them, the picked ones first."""
    if settings.rag_rerank != "llm":
        return None
    llm = build_llm(settings, settings.model_comprehensive, http)

    def make() -> LLMChoiceRerank:
        return LLMChoiceRerank(
            llm,
            top_n=settings.rag_top_k,
            candidates=settings.rag_rerank_candidates,
            timeout=settings.openai_timeout_seconds,
            counter=counter,
        )

    return make


def build_engine(
    settings: Settings,
    parts: QueryParts,
    synthesizer: StreamingSynthesizer,
    prompts: Mapping[str, AnswerPrompt] | None = None,
    checks: Sequence[AnswerCheck] | None = None,
) -> CourseQueryEngine:
    config = RetrievalConfig(
        top_k=settings.rag_top_k,
        hybrid=parts.hybrid,
        threshold=settings.chunk_cutoff,
        timeout=settings.redis_timeout_seconds,
        pool=settings.rag_lexical_pool,
        rerank_candidates=settings.rag_rerank_candidates if settings.rag_rerank == "llm" else 0,
    )
    return CourseQueryEngine(
        parts.chunks,
        config,
        build_chain(settings),
        synthesizer,
        checks=parts.checks if checks is None else checks,
        prompts=prompts,
        extras=parts.extras,
    )
