"""``python -m evaluation.pipeline_eval``: the server's query path, end to end on real services.

Each question goes through the query engine the server builds (``app.services.query_parts``:
the same builder, the same settings): the question embedded by the server's model, the
``CourseRetriever`` with its legs (dense on Redis, the per-course BM25 leg, weighted
reciprocal-rank fusion), the cross-lingual search (glossary or LLM translation, cached in Redis)
and the refusal gate — everything of a turn before the answer prompt. Reported: hit@1 / hit@5 /
MRR per kind on the retriever's list (20 deep), not-covered refusals and false refusals before the
LLM, and the medians of the turn's own laps. ``--split heldout`` is for the final report only:
tune with ``dev``. ``--rerank llm`` also applies the server's LLM reranker to each list (same run,
same lists; ``evaluation.reranking``), on a sample with ``--per-kind`` / ``--whole``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.schema import NodeWithScore, QueryBundle
from redisvl.index import AsyncSearchIndex

from app.core.config import Settings, get_settings
from app.core.embeddings import build_embedding
from app.core.knowledge import KnowledgeKeys, build_vector_store, chunk_schema
from app.core.redis import async_client, sync_client
from app.rag.engine import CourseQueryEngine, RerankFactory
from app.rag.scope import CourseScope
from app.rag.synthesizer import StreamingSynthesizer
from app.services.lexical import normalize_question
from app.services.llm import LlamaCppPromptCounter, PromptCounter, build_llm
from app.services.metered import MeteredLLM
from app.services.query_parts import build_engine, build_query_parts, rerank_factory
from app.services.timing import Stopwatch
from app.services.versions import VersionReader
from evaluation.lab_data import LabQuestion, default_question_files, read_questions
from evaluation.lab_metrics import DEPTH, Score, by_kind, table
from evaluation.reranking import (
    Row,
    append_row,
    first_right,
    rerank_list,
    sample,
    summarize,
)

Timings = dict[str, list[float]]


def _page(node: NodeWithScore) -> tuple[str, int]:
    meta = node.node.metadata
    return str(meta.get("filename")), int(meta.get("page", 0))


@dataclass
class Outcome:
    pages: list[tuple[str, int]]
    refused: bool
    row: Row | None = None  # with a reranker: the fused and reranked ranks, the call's cost


@dataclass(frozen=True)
class RerankRun:
    """The reranker under test and where its per-question rows go."""

    make: RerankFactory
    candidates: int
    rows: Path


async def ask(
    engine: CourseQueryEngine,
    embedding: BaseEmbedding,
    q: LabQuestion,
    timings: Timings,
    rerank: RerankRun | None = None,
) -> Outcome:
    """One question through the server's engine up to the answer prompt."""
    text = q.question.question
    started = time.perf_counter()
    vector = await embedding.aget_query_embedding(normalize_question(text))
    timings["embed"].append(1000 * (time.perf_counter() - started))
    clock = Stopwatch()
    scope = CourseScope(q.question.course_id)
    retrieval = await engine.aretrieve(QueryBundle(text, embedding=vector), scope, clock, DEPTH)
    for name, ms in clock.laps.items():
        timings[name].append(ms)
    pages = [_page(n) for n in retrieval.retrieved]
    refused = retrieval.refused is not None
    if rerank is None:
        return Outcome(pages, refused)
    fused = first_right(q, pages)
    row = Row(q.question.id, q.kind, q.question.answerable, refused, fused, fused)
    if not refused and retrieval.retrieved:  # the server reranks only what the gate lets through
        done = await rerank_list(rerank.make, text, retrieval.retrieved)
        row = replace(
            row,
            reranked_rank=first_right(q, [_page(n) for n in done.nodes]),
            seconds=round(done.seconds, 2),
            prompt_tokens=done.prompt_tokens,
            completion_tokens=done.completion_tokens,
            counted=done.counted,
            picked=done.picked,
            picked_ranks=done.picked_ranks,
        )
    append_row(rerank.rows, row)
    return Outcome(pages, refused, row)


def report(
    questions: Sequence[LabQuestion], outcomes: Sequence[Outcome], timings: Timings, label: str
) -> None:
    # by_kind wants ranked doc ids and a "right" test: a doc id here is the rank position
    lists = [list(range(len(o.pages))) for o in outcomes]
    right = {
        q.question.id: {i for i, (f, p) in enumerate(o.pages) if q.question.is_right(f, p)}
        for q, o in zip(questions, outcomes, strict=True)
    }
    scores: dict[str, Score] = by_kind(questions, lists, lambda q, i: i in right[q.question.id])
    print(table({label: scores}))
    refused = [(q.question.answerable, o.refused) for q, o in zip(questions, outcomes, strict=True)]
    nc = [r for a, r in refused if not a]
    ans = [r for a, r in refused if a]
    print(
        f"refused before the LLM: {sum(nc)}/{len(nc)} not covered, {sum(ans)}/{len(ans)} answerable"
    )
    for name, values in sorted(timings.items()):
        print(f"{name}_ms: median {statistics.median(values):.2f} (n={len(values)})")


@dataclass(frozen=True)
class RerankOptions:
    """``--rerank llm``: the server's reranker with these settings, rows written to ``rows``."""

    settings: Settings
    rows: Path
    tokenizer: str | None  # a llama.cpp server's root: count prompt tokens with its tokenizer


async def run(
    settings: Settings,
    questions: Sequence[LabQuestion],
    label: str,
    rerank: RerankOptions | None = None,
) -> None:
    timeout = settings.redis_timeout_seconds
    client = async_client(settings.redis_knowledge_url, timeout)
    sync = sync_client(settings.redis_knowledge_url, timeout)
    http = httpx.AsyncClient(timeout=settings.openai_timeout_seconds)
    try:
        embedding = await asyncio.to_thread(build_embedding, settings)
        store = await asyncio.to_thread(build_vector_store, settings, sync, client)
        index = AsyncSearchIndex(chunk_schema(settings), redis_client=client)
        versions = VersionReader(client, KnowledgeKeys.from_settings(settings), timeout)
        parts = build_query_parts(
            settings,
            embedding=embedding,
            store=store,
            index=index,
            client=client,
            versions=versions,
            http=http,
            counter=None,
        )
        answer_model = build_llm(settings, settings.model_comprehensive, http)
        synthesizer = StreamingSynthesizer(MeteredLLM(settings), answer_model, 1200)
        engine = build_engine(settings, parts, synthesizer)
        reranking = None
        if rerank is not None:
            counter: PromptCounter | None = None
            if rerank.tokenizer:
                counter = LlamaCppPromptCounter(
                    http, rerank.tokenizer, rerank.settings.openai_timeout_seconds
                )
            make = rerank_factory(rerank.settings, http, counter)
            assert make is not None  # RerankOptions.settings have RAG_RERANK=llm
            candidates = rerank.settings.rag_rerank_candidates
            reranking = RerankRun(make, candidates, rerank.rows)
        timings: Timings = defaultdict(list)
        outcomes = [await ask(engine, embedding, q, timings, reranking) for q in questions]
        report(questions, outcomes, timings, label)
        if reranking is not None:
            rows = [o.row for o in outcomes if o.row is not None]
            print(summarize(rows, reranking.candidates))
        if parts.lexical is not None:
            await parts.lexical.aclose()
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
        choices=["bm25", "dense", "redisearch"],
        default="bm25",
        help="bm25: dense + in-process BM25 (default); dense: dense only; redisearch: legacy",
    )
    p.add_argument(
        "--rerank",
        choices=["off", "llm"],
        default="off",
        help="llm: also apply the server's LLM reranker (RAG_RERANK=llm) to every fused list",
    )
    p.add_argument(
        "--rerank-candidates", type=int, help="RAG_RERANK_CANDIDATES (default: settings)"
    )
    p.add_argument(
        "--rows",
        type=Path,
        default=Path("var/rerank-rows.jsonl"),
        help="one JSON line per question, as it is asked (rewritten each run)",
    )
    p.add_argument(
        "--tokenizer",
        help="count the reranker's prompt tokens with this llama.cpp server's tokenizer "
        "(e.g. http://127.0.0.1:8091; for endpoints that report no usage)",
    )
    p.add_argument("--per-kind", type=int, help="sample this many questions per kind")
    p.add_argument(
        "--whole", action="append", default=[], help="kinds taken whole in a sample (repeat)"
    )
    p.add_argument("--seed", type=int, default=7, help="seed of the sample")
    args = p.parse_args(argv)
    split = None if args.split == "all" else args.split
    questions = read_questions(args.questions or default_question_files(), split)
    questions = sample(questions, args.per_kind, args.whole, args.seed)
    legs = {"bm25": "bm25", "dense": "off", "redisearch": "redisearch"}[args.legs]
    settings = get_settings(
        key_prefix=args.prefix,
        openai_temperature=0.0,
        openai_max_tokens=80,
        rag_lexical=legs,
        rag_hybrid=False,
        rag_crosslingual=args.crosslingual,
        rag_lexical_build_wait_seconds=120.0,  # every question with its course's index built
    )
    label = f"server engine (legs={args.legs}, crosslingual={args.crosslingual}, {args.split})"
    rerank = None
    if args.rerank == "llm":
        rerank_settings = settings.model_copy(update={"rag_rerank": "llm"})
        if args.rerank_candidates is not None:
            rerank_settings = rerank_settings.model_copy(
                update={"rag_rerank_candidates": args.rerank_candidates}
            )
        args.rows.parent.mkdir(parents=True, exist_ok=True)
        args.rows.write_text("", encoding="utf-8")
        rerank = RerankOptions(rerank_settings, args.rows, args.tokenizer)
    asyncio.run(run(settings, questions, label, rerank))


if __name__ == "__main__":
    main()
