"""Ask every labelled question through the server's own ``CourseRetriever`` and keep what came back.

Nothing here re-implements retrieval: the retriever, vector store, search index and embedding are
built exactly as ``app.main.build_services`` builds them, only on the eval key prefix, and the
question goes in as the server's ``QueryBundle`` (text plus its one embedding). Each
question is asked once per ``top_k`` of interest and once with a deep list (``depth``), with the
threshold switched off (every candidate kept), so thresholds can be swept offline. Asking per
``top_k`` matters for hybrid retrieval: its candidate pools may grow with ``top_k``, so the top 3 of
a top-20 request is not always what ``RAG_TOP_K=3`` serves.

:func:`server_retriever` is the one place that knows the server's retrieval API: to measure another
retriever, give :func:`run_questions` another ``open_search`` that yields a :data:`Search`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Literal

import httpx
from llama_index.core.schema import NodeWithScore, QueryBundle
from redisvl.index import AsyncSearchIndex

from app.core.config import Settings
from app.core.embeddings import build_embedding
from app.core.knowledge import KnowledgeKeys, build_vector_store, chunk_schema
from app.core.redis import aensure_search_module, async_client, sync_client
from app.rag import nodes as node_facts
from app.rag.retriever import CourseRetriever
from app.rag.scope import CourseScope
from app.services.lexical import normalize_question
from app.services.query_parts import build_query_parts
from app.services.versions import VersionReader
from evaluation.dataset import Question

Mode = Literal["dense", "hybrid"]
# (question text, course id, top_k, mode) -> candidates best first, no distance cut applied
Search = Callable[[str, str, int, Mode], Awaitable[list["Hit"]]]
OpenSearch = Callable[[Settings], AbstractAsyncContextManager[Search]]
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
    seconds: float  # embedding the questions (once each) and every retrieval request
    requests: int


@asynccontextmanager
async def server_retriever(settings: Settings) -> AsyncIterator[Search]:
    """The server's ``CourseRetriever`` on ``settings``' index, as a :data:`Search`.

    The question is embedded once (normalised as the server does) and reused for every request.
    """
    timeout = settings.redis_timeout_seconds
    client = async_client(settings.redis_knowledge_url, timeout)
    sync = sync_client(settings.redis_knowledge_url, timeout)
    http = httpx.AsyncClient(timeout=settings.openai_timeout_seconds)
    try:
        async with asyncio.timeout(timeout):
            await aensure_search_module(client, settings.redis_knowledge_url)
        embedding = await asyncio.to_thread(build_embedding, settings)
        store = await asyncio.to_thread(build_vector_store, settings, sync, client)
        index = AsyncSearchIndex(chunk_schema(settings), redis_client=client)
        # the server's legs ("hybrid" = the lexical leg RAG_LEXICAL selects), as it builds them
        built = settings.model_copy(update={"rag_lexical_build_wait_seconds": 120.0})
        versions = VersionReader(client, KnowledgeKeys.from_settings(settings), timeout)
        parts = build_query_parts(
            built,
            embedding=embedding,
            store=store,
            index=index,
            client=client,
            versions=versions,
            http=http,
            counter=None,
        )
        chunks = parts.chunks
        vectors: dict[str, list[float]] = {}

        async def search(question: str, course_id: str, k: int, mode: Mode) -> list[Hit]:
            if question not in vectors:
                vectors[question] = await embedding.aget_query_embedding(
                    normalize_question(question)
                )
            retriever = CourseRetriever(
                chunks,
                CourseScope(course_id),
                k,
                mode == "hybrid" and parts.hybrid,
                timeout,
                pool=settings.rag_lexical_pool,
            )
            nodes = await retriever.aretrieve(
                QueryBundle(query_str=question, embedding=vectors[question])
            )
            return [Hit.of(node) for node in nodes]

        yield search
        if parts.lexical is not None:
            await parts.lexical.aclose()
    finally:
        await http.aclose()
        await client.aclose()
        sync.close()


async def run_questions(
    settings: Settings,
    questions: Sequence[Question],
    modes: Sequence[Mode] = ("dense", "hybrid"),
    top_ks: Sequence[int] = SWEEP_TOP_KS,
    depth: int = DEFAULT_DEPTH,
    open_search: OpenSearch = server_retriever,
) -> tuple[dict[Mode, list[QuestionRun]], RunTiming]:
    """Every question × mode × top_k through the retriever (threshold off)."""
    ks = sorted({*top_ks, depth})
    runs: dict[Mode, list[QuestionRun]] = {mode: [] for mode in modes}
    seconds = 0.0
    async with open_search(settings) as search:
        for question in questions:
            for mode in modes:
                run = QuestionRun(question, mode)
                for k in ks:
                    started = time.perf_counter()
                    run.lists[k] = await search(question.question, question.course_id, k, mode)
                    seconds += time.perf_counter() - started
                runs[mode].append(run)
    requests = len(questions) * len(modes) * len(ks)
    return runs, RunTiming(seconds, requests)
