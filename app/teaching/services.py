"""Everything the teaching loop holds for the app's lifetime, built once by the lifespan."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from llama_index.core.base.embeddings.base import BaseEmbedding
from redisvl.index import AsyncSearchIndex
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.config import LOCAL_EMBEDDING_MODEL, Settings
from app.core.knowledge import KnowledgeKeys
from app.db.access import Database
from app.db.course_turns import CourseTurns
from app.db.curated_store import CuratedStore
from app.db.feedback_store import FeedbackStore
from app.db.insight_queries import InsightQueries
from app.services.cache import AnswerCache
from app.services.versions import VersionReader
from app.teaching.course_settings import CourseSettingsStore
from app.teaching.curated import CuratedAnswers
from app.teaching.digest_sender import DigestSender
from app.teaching.feedback import FeedbackService
from app.teaching.insights import InsightsService, QuestionVectors
from app.teaching.mailer import SmtpConfig
from app.teaching.matcher import CuratedMatcher
from app.teaching.references import MaterialPages
from app.teaching.reviews import ReviewQueue
from app.teaching.turn_scope import CourseScopes

# Calibrated on the curated paraphrase set (docs/benchmarks.md, "Curated answers"); other models
# get an unmeasured starting point: run `python -m bench.curated_threshold` and set
# CURATED_DISTANCE_THRESHOLD.
DEFAULT_CURATED_THRESHOLD = {LOCAL_EMBEDDING_MODEL: 0.03}
UNMEASURED_CURATED_THRESHOLD = 0.12


def curated_threshold(settings: Settings) -> float:
    if settings.curated_distance_threshold is not None:
        return settings.curated_distance_threshold
    return DEFAULT_CURATED_THRESHOLD.get(
        settings.embedding_model_name, UNMEASURED_CURATED_THRESHOLD
    )


def smtp_config(settings: Settings) -> SmtpConfig | None:
    if not settings.smtp_host:
        return None
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    return SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=settings.smtp_from,
        username=settings.smtp_username,
        password=password,
        security=settings.smtp_security,
        timeout=settings.smtp_timeout_seconds,
    )


@dataclass
class TeachingServices:
    feedback: FeedbackService
    feedback_store: FeedbackStore
    reviews: ReviewQueue | None
    curated: CuratedAnswers
    matcher: CuratedMatcher
    course_settings: CourseSettingsStore
    insights: InsightsService
    digests: DigestSender
    scopes: CourseScopes  # a turn's answer modes and checked page context
    course_turns: CourseTurns  # recent answers, for the lecturers' pages


def build_teaching(
    settings: Settings,
    engine: AsyncEngine,
    knowledge: aioredis.Redis,
    cache_redis: aioredis.Redis,
    chunk_index: AsyncSearchIndex,
    embedding: BaseEmbedding,
    answer_cache: AnswerCache | None,
    versions: VersionReader,
) -> TeachingServices:
    timeout = settings.redis_timeout_seconds
    prefix = settings.key_prefix
    keys = KnowledgeKeys.from_settings(settings)
    database = Database(engine, settings.database_timeout_seconds)
    feedback_store = FeedbackStore(database)
    reviews = (
        ReviewQueue(answer_cache, cache_redis, prefix, timeout)
        if answer_cache is not None
        else None
    )
    pages = MaterialPages(knowledge, chunk_index, keys, timeout)
    curated = CuratedAnswers(
        CuratedStore(database),
        pages,
        embedding.aget_query_embedding,
        settings.embedding_model_name,
        knowledge,
        prefix,
        timeout,
    )
    course_settings = CourseSettingsStore(knowledge, prefix, timeout)
    insights = InsightsService(
        InsightQueries(database, settings.insights_max_turns),
        QuestionVectors(embedding, cache_redis, f"{prefix}:qvec:{keys.slug}", timeout),
        settings.insights_topic_distance,
        settings.insights_gap_distance,
        settings.insights_max_turns,
    )

    async def course_ids() -> list[str]:
        async with asyncio.timeout(timeout):
            members: set[Any] = await knowledge.smembers(keys.courses)  # type: ignore[misc]
        return sorted(m.decode() if isinstance(m, bytes) else str(m) for m in members)

    return TeachingServices(
        feedback=FeedbackService(feedback_store, reviews),
        feedback_store=feedback_store,
        reviews=reviews,
        curated=curated,
        matcher=CuratedMatcher(curated, versions, curated_threshold(settings)),
        course_settings=course_settings,
        insights=insights,
        digests=DigestSender(
            insights,
            course_settings,
            smtp_config(settings),
            cache_redis,
            prefix,
            course_ids,
            timeout,
        ),
        scopes=CourseScopes(course_settings, pages),
        course_turns=CourseTurns(database),
    )
