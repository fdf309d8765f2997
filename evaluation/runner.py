"""Ask every labelled question through the server's own ``CourseRetriever`` and keep what came back.

Nothing here re-implements retrieval: the retriever, vector store, search index and embedding are
built exactly as ``app.main.build_services`` builds them, only on the eval key prefix, and the
question goes in as the server's ``QueryBundle`` (text plus its one embedding). Each
question is asked once per ``top_k`` of interest and once with a deep list (``depth``), with the
postprocessors left out (the distance cut is what the sweep varies), so thresholds can be swept
offline. Asking per ``top_k`` matters for hybrid retrieval: its candidate pools grow once ``top_k``
exceeds the fixed pool, so the top 3 of a deep request is not always what ``RAG_TOP_K=3`` serves.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from llama_index.core.schema import NodeWithScore, QueryBundle
from redisvl.index import AsyncSearchIndex

from app.core.config import Settings
from app.core.embeddings import build_embedding
from app.core.knowledge import build_vector_store, chunk_schema
from app.core.redis import aensure_search_module, async_client, sync_client
from app.rag import nodes as node_facts
from app.rag.legs import ChunkIndex
from app.rag.retriever import CourseRetriever
from app.rag.scope import CourseScope
from app.services.lexical import normalize_question
from evaluation.dataset import Question

Mode = Literal["dense", "hybrid"]
KEEP_ALL = 2.0  # the largest cosine distance: no candidate is cut
DEFAULT_DEPTH = 20
SWEEP_TOP_KS = (1, 3, 5, 8)


@dataclass(frozen=True)
class Hit:
    """One retrieved candidate, reduced to what scoring needs."""

    filename: str
    page: int
    distance: float
    dense_rank: int | None
    lexical_rank: int | None
    chunk_type: str

    @classmethod
    def of(cls, node: NodeWithScore) -> Hit:
        return cls(
            node_facts.meta(node, "filename"),
            node_facts.page_number(node),
            round(node_facts.distance(node), 6),
            node_facts.rank(node, "dense"),
            node_facts.rank(node, "lexical"),
            node_facts.meta(node, "chunk_type", "text"),
        )


@dataclass
class QuestionRun:
    """The candidates one question got in one mode: ``lists[k]`` is a ``top_k=k`` request."""

    question: Question
    mode: Mode
    lists: dict[int, list[Hit]] = field(default_factory=dict)

    def top(self, k: int) -> list[Hit]:
        """What the server returns with ``RAG_TOP_K=k`` (threshold aside)."""
        if k in self.lists:
            return self.lists[k]
        deeper = min((d for d in self.lists if d >= k), default=max(self.lists))
        return self.lists[deeper][:k]

    @property
    def deep(self) -> list[Hit]:
        return self.lists[max(self.lists)]

    def right_rank(self, hits: Sequence[Hit] | None = None) -> int | None:
        """1-based rank of the first right page, None when no right page was retrieved."""
        for rank, hit in enumerate(self.deep if hits is None else hits, start=1):
            if self.question.is_right(hit.filename, hit.page):
                return rank
        return None


@dataclass(frozen=True)
class RunTiming:
    embed_seconds: float
    retrieve_seconds: float
    requests: int


async def run_questions(
    settings: Settings,
    questions: Sequence[Question],
    modes: Sequence[Mode] = ("dense", "hybrid"),
    top_ks: Sequence[int] = SWEEP_TOP_KS,
    depth: int = DEFAULT_DEPTH,
) -> tuple[dict[Mode, list[QuestionRun]], RunTiming]:
    """Every question × mode × top_k through the real retriever (threshold off)."""
    timeout = settings.redis_timeout_seconds
    client = async_client(settings.redis_knowledge_url, timeout)
    sync = sync_client(settings.redis_knowledge_url, timeout)
    try:
        async with asyncio.timeout(timeout):
            await aensure_search_module(client, settings.redis_knowledge_url)
        embedding = await asyncio.to_thread(build_embedding, settings)
        store = await asyncio.to_thread(build_vector_store, settings, sync, client)
        index = AsyncSearchIndex(chunk_schema(settings), redis_client=client)
        chunks = ChunkIndex(store, index)
        ks = sorted({*top_ks, depth})
        runs: dict[Mode, list[QuestionRun]] = {mode: [] for mode in modes}
        embed_seconds = retrieve_seconds = 0.0
        for question in questions:
            started = time.perf_counter()
            vector = await embedding.aget_query_embedding(normalize_question(question.question))
            embed_seconds += time.perf_counter() - started
            scope = CourseScope(question.course_id)
            for mode in modes:
                run = QuestionRun(question, mode)
                for k in ks:
                    retriever = CourseRetriever(chunks, scope, k, mode == "hybrid", timeout)
                    started = time.perf_counter()
                    nodes = await retriever.aretrieve(
                        QueryBundle(query_str=question.question, embedding=vector)
                    )
                    retrieve_seconds += time.perf_counter() - started
                    run.lists[k] = [Hit.of(node) for node in nodes]
                runs[mode].append(run)
        requests = len(questions) * len(modes) * len(ks)
        return runs, RunTiming(embed_seconds, retrieve_seconds, requests)
    finally:
        await client.aclose()
        sync.close()
