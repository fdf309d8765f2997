"""``python -m evaluation.pipeline_eval``: the recommended query path, end to end on real services.

Each question goes through the components as the server would chain them: the question embedded
by the server's model, the dense leg (``app.rag.legs.DenseLeg``) on Redis, the lexical leg
from ``LexicalIndexCache`` (chunks loaded from the same Redis index), reciprocal-rank fusion, the
cross-lingual retriever (glossary or LLM translation, cached in Redis), and the refusal gate on
the fused list. Reported: hit@1 / hit@5 / MRR per kind, not-covered refusals and false refusals,
and the time each stage added (medians; LLM calls are reported apart). ``--split heldout`` is for
the final report only: tune with ``dev``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.schema import NodeWithScore, QueryBundle

from app.core.config import Settings, get_settings
from app.core.embeddings import build_embedding
from app.core.knowledge import KnowledgeKeys, build_vector_store, chunk_schema
from app.core.redis import sync_client
from app.rag.analysis import Analyzer, Stemming
from app.rag.crosslingual import (
    CachedTranslator,
    CrossLingualRetriever,
    GlossaryTranslator,
    LLMTranslator,
    Translator,
)
from app.rag.fusion import fuse_nodes
from app.rag.glossary import Glossary
from app.rag.legs import DenseLeg
from app.rag.lexical_index import (
    ChunkDoc,
    CourseLexicalIndex,
    LexicalIndexCache,
    load_course_chunks,
)
from app.rag.refusal import RefusalRule, decide, evidence_for_nodes
from app.rag.scope import NOT_ANSWERS, CourseScope, scope_filters
from app.services.lexical import normalize_question
from app.services.llm import build_llm
from app.services.versions import VersionReader
from evaluation.lab_data import LabQuestion, default_question_files, read_questions
from evaluation.lab_metrics import Score, by_kind, table

Timings = dict[str, list[float]]


class CourseHybridRetriever(BaseRetriever):
    """Dense (the server's Redis retriever) + per-course BM25, fused; one course per instance."""

    def __init__(self, dense: DenseLeg, lexical: CourseLexicalIndex, settings: Settings,
                 timings: Timings, legs: str = "hybrid") -> None:  # fmt: skip
        super().__init__()
        self._dense = dense
        self._lexical = lexical
        self._s = settings
        self._t = timings
        self._legs = legs  # "hybrid" (dense + in-process BM25) or "dense"

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        raise NotImplementedError("async only")

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        assert query_bundle.embedding is not None
        pool = self._s.rag_lexical_pool
        started = time.perf_counter()
        filters = scope_filters(CourseScope(self._lexical.course_id))
        found = await self._dense.search(query_bundle, filters, pool)
        dense_done = time.perf_counter()
        dense = [r.node for r in found if r.node is not None]
        if self._legs != "hybrid":
            return dense
        # analysed like the course's chunks (their stemmer), whatever language the text is in
        lexical = self._lexical.search(query_bundle.query_str, pool)
        fused = fuse_nodes([dense, lexical], [1.0, self._s.rag_lexical_weight])
        self._t["dense_ms"].append(1000 * (dense_done - started))
        self._t["lexical_and_fusion_ms"].append(1000 * (time.perf_counter() - dense_done))
        return fused


def _page(node: NodeWithScore) -> tuple[str, int]:
    meta = node.node.metadata
    return str(meta.get("filename")), int(meta.get("page", 0))


@dataclass
class Parts:
    """The real components one evaluation run asks through."""

    embedding: BaseEmbedding
    dense: DenseLeg
    cache: LexicalIndexCache
    translator: Translator | None
    rule: RefusalRule


def build_parts(
    settings: Settings, client: aioredis.Redis, sync: Any, http: httpx.AsyncClient, mode: str
) -> Parts:
    timeout = settings.redis_timeout_seconds
    embedding = build_embedding(settings)
    store = build_vector_store(settings, sync, client)
    schema = chunk_schema(settings)
    key_prefix = schema.index.prefix + schema.index.key_separator

    async def load(course_id: str) -> list[ChunkDoc]:
        return await load_course_chunks(
            client, schema.index.name, key_prefix, course_id, frozenset(NOT_ANSWERS), timeout
        )

    versions = VersionReader(client, KnowledgeKeys.from_settings(settings), timeout)
    stemming = Stemming(settings.rag_lexical_stemming)
    cache = LexicalIndexCache(
        load, versions.get, Analyzer(stemming), settings.rag_lexical_max_courses
    )
    translator: Translator | None = None
    if mode == "glossary":
        translator = GlossaryTranslator(Glossary.default())
    elif mode == "llm":
        llm = build_llm(settings, settings.model_comprehensive, http)
        namespace = f"{settings.key_prefix}:xlate:{llm.model}"
        ttl = settings.rag_translation_cache_ttl_seconds
        translator = CachedTranslator(LLMTranslator(llm, 300.0), client, namespace, ttl, timeout)
    rule = RefusalRule(
        settings.refusal_max_distance,
        settings.refusal_lexical_distance,
        settings.refusal_min_coverage,
        settings.refusal_max_unknown,
    )
    dense = DenseLeg(store)
    return Parts(embedding, dense, cache, translator, rule)


@dataclass
class Outcome:
    pages: list[tuple[str, int]]
    refused: bool


async def ask(
    parts: Parts, settings: Settings, q: LabQuestion, timings: Timings, legs: str
) -> Outcome:
    text = q.question.question
    started = time.perf_counter()
    vector = await parts.embedding.aget_query_embedding(normalize_question(text))
    timings["embed_ms"].append(1000 * (time.perf_counter() - started))
    lexical = await parts.cache.get(q.question.course_id)
    inner = CourseHybridRetriever(parts.dense, lexical, settings, timings, legs)
    retriever: BaseRetriever = inner
    if parts.translator is not None:
        shares = {lang: lexical.language_share(lang) for lang in ("id", "en")}
        retriever = CrossLingualRetriever(
            inner, parts.translator, parts.embedding.aget_query_embedding, shares,
            (1.0, 1.0), 300.0,
        )  # fmt: skip
    started = time.perf_counter()
    nodes = await retriever.aretrieve(QueryBundle(text, embedding=vector))
    timings["retrieve_total_ms"].append(1000 * (time.perf_counter() - started))
    evidence_text, language = text, None
    if isinstance(retriever, CrossLingualRetriever) and retriever.translations:
        t = retriever.translations[0]
        evidence_text, language = t.text, t.target
        timings[f"translation_{t.method}_s"].append(t.seconds)
    started = time.perf_counter()
    evidence = evidence_for_nodes(QueryBundle(evidence_text), nodes, lexical, language)
    verdict = decide(parts.rule, evidence)
    timings["refusal_ms"].append(1000 * (time.perf_counter() - started))
    return Outcome([_page(n) for n in nodes[:20]], verdict.refuse)


def report(
    questions: Sequence[LabQuestion], outcomes: Sequence[Outcome], timings: Timings, mode: str
) -> None:
    # by_kind wants ranked doc ids and a "right" test: a doc id here is the rank position
    lists = [list(range(len(o.pages))) for o in outcomes]
    right = {
        q.question.id: {i for i, (f, p) in enumerate(o.pages) if q.question.is_right(f, p)}
        for q, o in zip(questions, outcomes, strict=True)
    }
    scores: dict[str, Score] = by_kind(questions, lists, lambda q, i: i in right[q.question.id])
    print(table({f"pipeline (crosslingual={mode})": scores}))
    refused = [(q.question.answerable, o.refused) for q, o in zip(questions, outcomes, strict=True)]
    nc = [r for a, r in refused if not a]
    ans = [r for a, r in refused if a]
    print(
        f"refused before the LLM: {sum(nc)}/{len(nc)} not covered, {sum(ans)}/{len(ans)} answerable"
    )
    for name, values in sorted(timings.items()):
        print(f"{name}: median {statistics.median(values):.2f} (n={len(values)})")


async def run(
    settings: Settings, questions: Sequence[LabQuestion], mode: str, legs: str = "hybrid"
) -> None:
    client = aioredis.Redis.from_url(settings.redis_knowledge_url)
    sync = sync_client(settings.redis_knowledge_url, settings.redis_timeout_seconds)
    http = httpx.AsyncClient()
    try:
        parts = await asyncio.to_thread(build_parts, settings, client, sync, http, mode)
        timings: Timings = defaultdict(list)
        outcomes = [await ask(parts, settings, q, timings, legs) for q in questions]
        report(questions, outcomes, timings, f"{mode}, legs={legs}")
    finally:
        await http.aclose()
        await client.aclose()
        sync.close()


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    p.add_argument("--prefix", default="evalres")
    p.add_argument("--questions", type=Path, action="append")
    p.add_argument("--split", default="dev")
    p.add_argument("--crosslingual", choices=["off", "glossary", "llm"], default="glossary")
    p.add_argument(
        "--legs",
        choices=["hybrid", "dense"],
        default="hybrid",
        help="hybrid: dense + in-process BM25 (default); dense: dense only",
    )
    args = p.parse_args(argv)
    split = None if args.split == "all" else args.split
    questions = read_questions(args.questions or default_question_files(), split)
    settings = get_settings(key_prefix=args.prefix, openai_temperature=0.0, openai_max_tokens=80)
    asyncio.run(run(settings, questions, args.crosslingual, args.legs))


if __name__ == "__main__":
    main()
