"""The lexical leg: per-course BM25 over the chunks in Redis, kept in process.

A course's chunks are read from the chunk index once (text and page metadata, no vectors), analysed
with the course's language and kept until the course's content version changes (ingestion bumps
it), so the index is always the one the dense leg searches. Each chunk is analysed in its own
language (courses may mix Indonesian and English modules). Search returns LlamaIndex
``NodeWithScore``s carrying the same metadata as the dense leg's nodes, so fusion and every
postprocessor treat both alike.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from llama_index.core.schema import NodeWithScore, TextNode
from redis.commands.search.query import Query
from redisvl.query.filter import Tag

from app.core.schema import ChunkField
from app.rag.analysis import Analyzer, dominant_language
from app.rag.bm25 import BM25
from app.services.lexical import detect_language

log = logging.getLogger(__name__)
PAGE_SIZE = 1000
METADATA_FIELDS = (
    ChunkField.COURSE_ID.value,
    ChunkField.MATERIAL_ID.value,
    ChunkField.FILENAME.value,
    "title",
    ChunkField.PAGE.value,
    ChunkField.PAGE_LABEL.value,
    ChunkField.POSITION.value,
    ChunkField.CHUNK_TYPE.value,
)
INT_FIELDS = frozenset({ChunkField.PAGE.value, ChunkField.POSITION.value})


@dataclass(frozen=True)
class ChunkDoc:
    """What the lexical leg keeps of a chunk: its id, text and page metadata."""

    node_id: str
    text: str
    metadata: dict[str, Any]

    def node(self, score: float) -> NodeWithScore:
        return NodeWithScore(
            node=TextNode(id_=self.node_id, text=self.text, metadata=dict(self.metadata)),
            score=score,
        )


@dataclass
class CourseLexicalIndex:
    """BM25 over one course's answer chunks, with each chunk's language."""

    course_id: str
    version: str
    docs: list[ChunkDoc]
    languages: list[str]
    language: str  # the language most of the course is written in
    analyzer: Analyzer
    bm25: BM25
    _by_id: dict[str, int] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        course_id: str,
        version: str,
        docs: Sequence[ChunkDoc],
        analyzer: Analyzer,
        k1: float = 1.2,
        b: float = 0.75,
    ) -> CourseLexicalIndex:
        course_language = dominant_language(d.text for d in docs)
        languages = [detect_language(d.text, default=course_language) for d in docs]
        terms = [analyzer.terms(d.text, lang) for d, lang in zip(docs, languages, strict=True)]
        index = cls(
            course_id, version, list(docs), languages, course_language, analyzer, BM25(terms, k1, b)
        )
        index._by_id = {d.node_id: i for i, d in enumerate(docs)}
        return index

    def language_share(self, language: str) -> float:
        return sum(lang == language for lang in self.languages) / (len(self.languages) or 1)

    def query_terms(self, question: str, language: str | None = None) -> list[str]:
        return self.analyzer.query_terms(question, language or self.language)

    def search(self, question: str, k: int, language: str | None = None) -> list[NodeWithScore]:
        """The ``k`` best chunks for ``question`` (analysed as ``language``), best first."""
        terms = self.query_terms(question, language)
        return [self.docs[i].node(score) for i, score in self.bm25.top(terms, k)]

    def coverage(self, question: str, node_id: str, language: str | None = None) -> float:
        """IDF-weighted share of the question's words that occur in the chunk (0 when unknown)."""
        doc = self._by_id.get(node_id)
        if doc is None:
            return 0.0
        return self.bm25.coverage(self.query_terms(question, language), doc)


async def load_course_chunks(
    client: aioredis.Redis,
    index_name: str,
    key_prefix: str,
    course_id: str,
    exclude_types: frozenset[str],
    timeout_s: float,
) -> list[ChunkDoc]:
    """Every chunk of ``course_id`` except the excluded chunk types, in page order."""
    selector = str(Tag(ChunkField.COURSE_ID.value) == course_id)
    fields = [ChunkField.TEXT.value, *METADATA_FIELDS]
    docs: list[ChunkDoc] = []
    offset = 0
    while True:
        query = (
            Query(selector)
            .return_fields(*fields)
            .sort_by(ChunkField.PAGE.value)
            .paging(offset, PAGE_SIZE)
            .dialect(2)
        )
        async with asyncio.timeout(timeout_s):
            result = await client.ft(index_name).search(query)  # type: ignore[no-untyped-call]
        for raw in result.docs:
            values = {k: getattr(raw, k, "") for k in fields}
            if str(values[ChunkField.CHUNK_TYPE.value]) in exclude_types:
                continue
            metadata: dict[str, Any] = {
                k: int(float(values[k] or 0)) if k in INT_FIELDS else str(values[k])
                for k in METADATA_FIELDS
            }
            node_id = str(raw.id)[len(key_prefix) :]
            docs.append(ChunkDoc(node_id, str(values[ChunkField.TEXT.value]), metadata))
        offset += PAGE_SIZE
        if offset >= int(result.total):
            return docs


def _log_failure(task: asyncio.Task[CourseLexicalIndex]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("lexical index build failed: %s", type(task.exception()).__name__)


Loader = Callable[[str], Awaitable[list[ChunkDoc]]]
VersionOf = Callable[[str], Awaitable[str]]


class LexicalIndexCache:
    """Per-course lexical indexes, rebuilt when a course's content version changes.

    At most ``max_courses`` indexes stay in memory (least recently used go first); one build per
    course runs at a time, and analysis runs in a worker thread so the event loop keeps serving.
    """

    def __init__(
        self,
        load: Loader,
        version_of: VersionOf,
        analyzer: Analyzer,
        max_courses: int = 64,
        k1: float = 1.2,
        b: float = 0.75,
    ) -> None:
        self._load = load
        self._version_of = version_of
        self._analyzer = analyzer
        self._max = max_courses
        self._k1 = k1
        self._b = b
        self._indexes: OrderedDict[str, CourseLexicalIndex] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}
        self._building: dict[str, asyncio.Task[CourseLexicalIndex]] = {}

    async def ready(
        self, course_id: str, wait: float = 0.0, version: str | None = None
    ) -> CourseLexicalIndex | None:
        """The course's index at ``version`` (read when not given) without waiting long for a build.

        Analysing a large Indonesian course takes seconds the first time (Sastrawi looks up every
        new word), so a question waits at most ``wait`` seconds for it: this returns the current
        index, or the previous version's while the new one builds in the background, or — when
        the course has none yet — the new one if it is built within ``wait``, else None (dense
        only until the build finishes). The build runs in a worker thread either way.
        """
        if version is None:
            version = await self._version_of(course_id)
        cached = self._indexes.get(course_id)
        if cached is not None and cached.version == version:
            self._indexes.move_to_end(course_id)
            return cached
        task = self._building.get(course_id)
        if task is None:
            task = asyncio.create_task(self.get(course_id), name=f"lexical-index-{course_id}")
            self._building[course_id] = task
            task.add_done_callback(lambda _: self._building.pop(course_id, None))
            task.add_done_callback(_log_failure)
        if cached is not None or wait <= 0:
            return cached
        try:
            async with asyncio.timeout(wait):
                return await asyncio.shield(task)
        except TimeoutError:
            return None
        except Exception as exc:  # a failed build (Redis down): the dense leg answers alone
            log.warning("lexical index for %s not built: %s", course_id, type(exc).__name__)
            return None

    async def aclose(self) -> None:
        """Cancel background builds (at shutdown)."""
        tasks = list(self._building.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def get(self, course_id: str) -> CourseLexicalIndex:
        version = await self._version_of(course_id)
        cached = self._indexes.get(course_id)
        if cached is not None and cached.version == version:
            self._indexes.move_to_end(course_id)
            return cached
        lock = self._locks.setdefault(course_id, asyncio.Lock())
        async with lock:
            cached = self._indexes.get(course_id)
            if cached is not None and cached.version == version:
                return cached
            docs = await self._load(course_id)
            built = await asyncio.to_thread(
                CourseLexicalIndex.build,
                course_id,
                version,
                docs,
                self._analyzer,
                self._k1,
                self._b,
            )
            log.info(
                "lexical index for %s: %d chunks, language %s", course_id, len(docs), built.language
            )
            self._indexes[course_id] = built
            self._indexes.move_to_end(course_id)
            while len(self._indexes) > self._max:
                self._indexes.popitem(last=False)
            return built
