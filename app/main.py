"""The app factory and its lifespan: every client is opened here, once, and closed here.

Async Redis and HTTP clients bind to the event loop that first uses them, so they are created
inside the lifespan (the running loop), never at import time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Any

import httpx
from fastapi import FastAPI
from redisvl.index import AsyncSearchIndex
from sqlalchemy.exc import SQLAlchemyError

from app.api import (
    auth,
    course_settings,
    course_turns,
    courses,
    curated,
    feedback,
    insights,
    lti,
    probes,
    profile,
    reviews,
    rooms,
    stats,
    status,
    ws,
)
from app.api.errors import protocol_error_handler
from app.auth.abuse import AbuseLimits
from app.auth.bind import check_bind
from app.auth.build import build_authenticator
from app.auth.redaction import redact_secrets_in_server_logs
from app.core.config import Settings, get_settings
from app.core.embeddings import build_embedding
from app.core.knowledge import KnowledgeKeys, build_vector_store, chunk_schema
from app.core.logging import configure_logging
from app.core.redis import aensure_search_module, async_client, redact, sync_client
from app.core.remote_embedding import RemoteEmbedding
from app.db.engine import create_engine, run_migrations
from app.db.recorder import TurnRecorder
from app.db.repository import ChatRepository
from app.observability.metrics import Metrics
from app.protocol.errors import ProtocolError
from app.services.assembly import build_chat_service
from app.services.cache import AnswerCache, build_semantic_cache, close_semantic_cache
from app.services.history import ConversationSource
from app.services.llm import LlamaCppPromptCounter
from app.services.presence import Presence
from app.services.recent import RecentTurns
from app.services.stats import TurnStats
from app.services.turn import Answerer
from app.services.turnlog import TurnLog
from app.services.versions import VersionReader
from app.state import Services
from app.teaching.services import build_teaching
from app.teaching.turn_extras import turn_extras
from app.web import routes as web

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

log = logging.getLogger(__name__)
OUTBOX_DRAIN_SECONDS = 5.0


async def _check_llm(settings: Settings, http: httpx.AsyncClient) -> None:
    """Warn early (not fail) when the LLM endpoint does not answer: questions would fail."""
    base = settings.llm_api_base
    if not base:
        return
    try:
        response = await http.get(f"{base.rstrip('/')}/models", timeout=5.0)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        hint = " (start it with `make llm`)" if settings.uses_local_llm else ""
        log.warning(
            "LLM endpoint %s is not answering%s: %s", redact(base), hint, type(exc).__name__
        )


def traced(
    settings: Settings, chat: Answerer, stack: AsyncExitStack, exporter: SpanExporter | None
) -> Answerer:
    """The chat service, each turn in an OpenTelemetry span when ``OTEL_ENABLED`` (the SDK is
    imported only then: it comes with the ``otel`` extra)."""
    if not settings.otel_enabled:
        return chat
    try:
        from app.observability.tracing import TracedChat, build_tracing
    except ImportError as exc:
        raise RuntimeError(
            "OTEL_ENABLED=true needs the OpenTelemetry SDK: pip install 'course-tutor[otel]'"
        ) from exc
    tracing = build_tracing(settings, exporter)
    assert tracing is not None
    stack.callback(tracing.close)
    return TracedChat(chat, tracing)


async def build_services(
    settings: Settings, stack: AsyncExitStack, span_exporter: SpanExporter | None = None
) -> Services:
    timeout = settings.redis_timeout_seconds
    knowledge_sync = sync_client(settings.redis_knowledge_url, timeout)
    stack.callback(knowledge_sync.close)
    knowledge = async_client(settings.redis_knowledge_url, timeout)
    stack.push_async_callback(knowledge.aclose)
    async with asyncio.timeout(timeout):
        await aensure_search_module(knowledge, settings.redis_knowledge_url)
    if settings.redis_cache_url == settings.redis_knowledge_url:
        cache_sync, cache_redis = knowledge_sync, knowledge
    else:
        cache_sync = sync_client(settings.redis_cache_url, timeout)
        stack.callback(cache_sync.close)
        cache_redis = async_client(settings.redis_cache_url, timeout)
        stack.push_async_callback(cache_redis.aclose)
        async with asyncio.timeout(timeout):
            await aensure_search_module(cache_redis, settings.redis_cache_url)

    embedding = await asyncio.to_thread(build_embedding, settings)
    if isinstance(embedding, RemoteEmbedding):
        stack.push_async_callback(embedding.aclose)
    store = await asyncio.to_thread(build_vector_store, settings, knowledge_sync, knowledge)
    index = AsyncSearchIndex(chunk_schema(settings), redis_client=knowledge)

    http = httpx.AsyncClient(
        timeout=httpx.Timeout(settings.openai_timeout_seconds, connect=5.0),
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
    )
    stack.push_async_callback(http.aclose)
    counter = None
    if settings.uses_local_llm:  # llama.cpp streams no usage; its tokenizer counts exactly
        root = f"http://{settings.local_llm_host}:{settings.local_llm_port}"
        counter = LlamaCppPromptCounter(http, root, settings.openai_timeout_seconds)
    metrics = Metrics() if settings.metrics_enabled else None
    answer_cache = None
    if settings.cache_enabled:
        name = f"{settings.key_prefix}-answers-{KnowledgeKeys.from_settings(settings).slug}"
        semantic = await asyncio.to_thread(
            build_semantic_cache,
            cache_sync,
            embedding,
            name,
            settings.cache_threshold,
            settings.cache_ttl_seconds,
        )
        stack.push_async_callback(close_semantic_cache, semantic)
        answer_cache = AnswerCache(semantic, timeout, metrics)

    engine = create_engine(settings.resolved_database_url, settings.database_timeout_seconds)
    stack.push_async_callback(engine.dispose)
    if settings.db_auto_migrate:
        try:
            await run_migrations(engine)
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            raise RuntimeError(
                f"Cannot migrate the database at {redact(settings.resolved_database_url)} "
                f"({type(exc).__name__}); check DATABASE_URL, or set DB_AUTO_MIGRATE=false to "
                "start anyway (turns are buffered in Redis until the database is back)."
            ) from exc
    repository = ChatRepository(engine, settings.database_timeout_seconds)
    recorder = TurnRecorder(
        repository,
        cache_redis,
        f"{settings.key_prefix}:outbox:turns",
        settings.database_timeout_seconds,
    )
    versions = VersionReader(knowledge, KnowledgeKeys.from_settings(settings), timeout)
    teaching = build_teaching(
        settings, engine, knowledge, cache_redis, index, embedding, answer_cache, versions
    )
    recent = RecentTurns(cache_redis, settings.key_prefix, settings.history_turns, timeout)
    chat = build_chat_service(
        settings,
        embedding=embedding,
        store=store,
        index=index,
        http=http,
        counter=counter,
        versions=versions,
        conversations=ConversationSource(
            repository, settings.history_turns, settings.database_timeout_seconds, recent
        ),
        cache=answer_cache,
        client=knowledge,
        extras=turn_extras(teaching),
        stack=stack,
    )
    await _check_llm(settings, http)
    return Services(
        settings=settings,
        redis=knowledge,
        chat=traced(settings, chat, stack, span_exporter),
        versions=versions,
        repository=repository,
        recorder=recorder,
        presence=Presence(
            cache_redis, settings.key_prefix, settings.presence_heartbeat_seconds, timeout
        ),
        limiter=AbuseLimits(cache_redis, settings),
        stats=TurnStats(cache_redis, settings.key_prefix, timeout),
        metrics=metrics,
        auth=await build_authenticator(settings, cache_redis, http),
        teaching=teaching,
        recent=recent,
        turn_log=TurnLog(cache_redis, settings.key_prefix, settings.resume_window_seconds, timeout)
        if settings.resume_window_seconds > 0
        else None,
    )


def create_app(settings: Settings, span_exporter: SpanExporter | None = None) -> FastAPI:
    """The app; ``span_exporter`` receives the traces instead of OTLP (``OTEL_ENABLED``, tests)."""
    configure_logging(settings)
    check_bind(settings, settings.host)
    redact_secrets_in_server_logs()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        async with AsyncExitStack() as stack:
            services = await build_services(settings, stack, span_exporter)
            loops = [
                asyncio.create_task(services.presence.run(), name="presence-heartbeat"),
                asyncio.create_task(
                    services.recorder.run(OUTBOX_DRAIN_SECONDS), name="turn-outbox"
                ),
            ]
            if services.auth.lti is not None and settings.lti_roster_sync_seconds > 0:
                roster = services.auth.lti.roster.run(settings.lti_roster_sync_seconds)
                loops.append(asyncio.create_task(roster, name="lti-roster"))
            if services.teaching is not None and services.teaching.digests.configured:
                digests = services.teaching.digests.run(
                    settings.digest_check_seconds, settings.digest_weekday, settings.digest_hour_utc
                )
                loops.append(asyncio.create_task(digests, name="weekly-digest"))
            log.info(
                "course tutor ready: model=%s embeddings=%s",
                settings.model_comprehensive,
                settings.embedding_model_name,
            )
            try:
                yield {
                    "services": services,
                    "repository": services.repository,
                    "auth": services.auth,
                }
            finally:
                await services.background.wait(seconds=10.0)
                for task in loops:
                    task.cancel()
                for task in loops:
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                with contextlib.suppress(Exception):
                    await services.recorder.drain()
                Metrics.process_exited()

    app = FastAPI(title="Course tutor chat server", version="0.1.0", lifespan=lifespan)
    app.include_router(ws.router)
    app.include_router(status.router)
    app.include_router(profile.router)
    app.include_router(probes.router)
    app.include_router(auth.router)
    app.include_router(lti.router)
    app.add_exception_handler(ProtocolError, protocol_error_handler)
    for router in (
        feedback.router,
        reviews.router,
        curated.router,
        insights.router,
        course_turns.router,
        course_settings.router,
        courses.router,
        rooms.router,
        stats.router,
    ):
        app.include_router(router)
    web.mount(app)

    @app.get("/health", include_in_schema=True)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def create_app_from_env() -> FastAPI:
    """Factory for uvicorn (``--factory``), so each worker process builds its own app."""
    return create_app(get_settings())


def main() -> None:
    """``tutor-serve``; kept in :mod:`app.serve`, which does not import the app itself."""
    from app.serve import main as serve

    serve()
