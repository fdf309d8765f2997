"""Course insights for lecturers: what students ask, what the material lacks, which answers they
disliked and which pages answer most.

Students are counts, never names, unless the course's lecturers opted in (teaching settings).
Question vectors are computed once per distinct question and model and kept in Redis for a month,
so a dashboard refresh does not embed the week's questions again.
"""

from __future__ import annotations

import asyncio
import hashlib
import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime

import numpy as np
import numpy.typing as npt
import redis.asyncio as aioredis
from llama_index.core.base.embeddings.base import BaseEmbedding

from app.db.insight_queries import DownvoteRow, InsightQueries, TurnRow
from app.db.records import utcnow
from app.services.lexical import normalize_question
from app.teaching.insight_models import (
    ContentGap,
    CourseInsights,
    PageCitations,
    RatedAnswer,
    StudentActivity,
    Topic,
    Totals,
)
from app.teaching.topics import cluster_vectors, topics

VECTOR_TTL_S = 30 * 24 * 3600
MAX_TOPICS = 15
MAX_GAPS = 20
MAX_PAGES = 15
EXAMPLES = 3
ANSWERED = ("rag", "cache", "curated")


class QuestionVectors:
    """Embeddings of distinct questions, remembered in Redis per embedding model."""

    def __init__(
        self, embedding: BaseEmbedding, client: aioredis.Redis, prefix: str, timeout: float
    ) -> None:
        self._embedding = embedding
        self._client = client
        self._prefix = prefix
        self._timeout = timeout

    def _key(self, text: str) -> str:
        digest = hashlib.sha256(text.encode()).hexdigest()[:32]
        return f"{self._prefix}:{digest}"

    async def vectors(self, questions: Sequence[str]) -> npt.NDArray[np.float32]:
        if not questions:
            return np.zeros((0, 1), dtype=np.float32)
        keys = [self._key(q) for q in questions]
        async with asyncio.timeout(self._timeout):
            stored = await self._client.mget(keys)
        rows: list[npt.NDArray[np.float32]] = []
        fresh: dict[str, bytes] = {}
        for question, key, blob in zip(questions, keys, stored, strict=True):
            if blob:
                rows.append(np.frombuffer(blob, dtype=np.float32))
                continue
            vector = np.asarray(
                await self._embedding.aget_query_embedding(question), dtype=np.float32
            )
            rows.append(vector)
            fresh[key] = vector.tobytes()
        if fresh:
            async with asyncio.timeout(self._timeout):
                pipe = self._client.pipeline(transaction=False)
                for key, blob in fresh.items():
                    pipe.set(key, blob, ex=VECTOR_TTL_S)
                await pipe.execute()
        return np.vstack(rows)


def _examples(texts: Sequence[str], members: Sequence[int]) -> list[str]:
    seen: dict[str, str] = {}
    for i in members:
        seen.setdefault(normalize_question(texts[i]), texts[i])
        if len(seen) == EXAMPLES:
            break
    return list(seen.values())


class InsightsService:
    def __init__(
        self,
        queries: InsightQueries,
        vectors: QuestionVectors,
        topic_distance: float,
        gap_distance: float,
        limit: int,
    ) -> None:
        self._queries = queries
        self._vectors = vectors
        self._topic_distance = topic_distance
        self._gap_distance = gap_distance
        self._limit = limit

    async def build(
        self, course_id: str, start: datetime, end: datetime, show_students: bool
    ) -> CourseInsights:
        turns = await self._queries.turns(course_id, start, end)
        ratings = await self._queries.ratings(course_id, start, end)
        questions = [t.query for t in turns]
        vectors = await self._vectors.vectors([normalize_question(q) for q in questions])
        topic_list, other = self._topics(turns, vectors)
        return CourseInsights(
            course_id=course_id,
            start=start,
            end=end,
            generated_at=utcnow(),
            totals=_totals(turns, ratings),
            topics=topic_list,
            other_questions=other,
            content_gaps=self._gaps(turns, vectors),
            downvoted=[_rated(r, show_students) for r in ratings if r.rating == "down"],
            top_pages=_pages(turns),
            students=_students(turns) if show_students else None,
            truncated=len(turns) >= self._limit,
        )

    def _topics(
        self, turns: list[TurnRow], vectors: npt.NDArray[np.float32]
    ) -> tuple[list[Topic], int]:
        texts = [t.query for t in turns]
        clusters = topics(texts, vectors, self._topic_distance)
        listed = [c for c in clusters if len(c.members) >= 2][:MAX_TOPICS]
        total = len(turns) or 1
        out = [
            Topic(
                label=c.label,
                keywords=c.keywords,
                questions=len(c.members),
                students=len({turns[i].user_id for i in c.members}),
                share=round(len(c.members) / total, 3),
                examples=_examples(texts, c.members),
            )
            for c in listed
        ]
        return out, len(turns) - sum(t.questions for t in out)

    def _gaps(self, turns: list[TurnRow], vectors: npt.NDArray[np.float32]) -> list[ContentGap]:
        picked = [i for i, t in enumerate(turns) if t.response_source == "not_covered"]
        if not picked:
            return []
        groups = cluster_vectors(vectors[picked], self._gap_distance)
        texts = [turns[i].query for i in picked]
        gaps = [
            ContentGap(
                question=texts[members[0]],
                count=len(members),
                students=len({turns[picked[i]].user_id for i in members}),
                examples=_examples(texts, members),
                last_asked=max(turns[picked[i]].created_at for i in members),
            )
            for members in groups
        ]
        return gaps[:MAX_GAPS]


def _totals(turns: list[TurnRow], ratings: list[DownvoteRow]) -> Totals:
    sources = Counter(t.response_source for t in turns if t.status == "completed")
    latencies = [t.latency_ms for t in turns if t.status == "completed"]
    return Totals(
        questions=len(turns),
        students=len({t.user_id for t in turns}),
        answered=sum(sources[s] for s in ANSWERED),
        not_covered=sources["not_covered"],
        from_cache=sources["cache"],
        curated=sources["curated"],
        failed=sum(1 for t in turns if t.status != "completed"),
        upvotes=sum(1 for r in ratings if r.rating == "up"),
        downvotes=sum(1 for r in ratings if r.rating == "down"),
        cost_usd=round(sum(t.cost_usd for t in turns), 6),
        median_latency_ms=round(statistics.median(latencies), 1) if latencies else None,
    )


def _rated(row: DownvoteRow, show_students: bool) -> RatedAnswer:
    return RatedAnswer(
        turn_id=row.turn_id,
        question=row.query,
        answer=row.answer,
        comment=row.comment,
        response_source=row.response_source,
        rated_at=row.updated_at,
        cache_entry=row.cache_key is not None,
        student=row.user_id if show_students else None,
    )


def _pages(turns: list[TurnRow]) -> list[PageCitations]:
    counts: Counter[tuple[str, int]] = Counter()
    described: dict[tuple[str, int], PageCitations] = {}
    for turn in turns:
        if turn.response_source not in ANSWERED:
            continue
        seen: set[tuple[str, int]] = set()
        for source in turn.sources:
            meta = source.get("metadata", source)
            material = str(meta.get("material_id", ""))
            page = int(meta.get("page_number") or 0)
            if not material or not page or (material, page) in seen:
                continue
            seen.add((material, page))
            counts[(material, page)] += 1
            described.setdefault(
                (material, page),
                PageCitations(
                    material_id=material,
                    filename=str(meta.get("filename", "")),
                    title=meta.get("title"),
                    page_label=str(meta.get("page_label") or page),
                    page_number=page,
                    citations=0,
                ),
            )
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_PAGES]
    return [described[key].model_copy(update={"citations": n}) for key, n in ranked]


def _students(turns: list[TurnRow]) -> list[StudentActivity]:
    asked: defaultdict[str, list[TurnRow]] = defaultdict(list)
    for turn in turns:
        asked[turn.user_id].append(turn)
    rows = [
        StudentActivity(
            student=user,
            questions=len(items),
            not_covered=sum(1 for t in items if t.response_source == "not_covered"),
        )
        for user, items in asked.items()
    ]
    return sorted(rows, key=lambda r: (-r.questions, r.student))
