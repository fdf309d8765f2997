"""One student turn, from question to grounded answer, as a stream of events.

Order of work: condense a follow-up with the room's history → embed once → semantic cache (scoped
by course, content version and language) → retrieval filtered by course → the LLM, or the fixed
"not covered" answer when no chunk is close enough → cache store → optional personalization. The
caller turns :class:`Delta` events into ``chat_chunk`` frames and the :class:`TurnResult` into
``chat_response``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.base.llms.types import ChatMessage
from redis.exceptions import RedisError

from app.core.config import Settings
from app.protocol.messages import ResponseSource, Source, SourceMetadata, UsageItem
from app.services.cache import AnswerCache, CacheScope
from app.services.history import ConversationContext, ConversationSource
from app.services.lexical import detect_language, needs_condensing, normalize_question
from app.services.llm import (
    CompatibleOpenAI,
    Delta,
    LLMUnavailableError,
    PromptCounter,
    Usage,
    complete,
    stream_chat,
)
from app.services.prompt import (
    PROMPT_VERSION,
    answer_messages,
    condense_messages,
    is_refusal,
    not_covered_message,
    personalize_messages,
    select_for_prompt,
)
from app.services.retrieval import RetrievedChunk, Retriever
from app.services.timing import Stopwatch
from app.services.usage import Purpose, usage_item
from app.services.versions import VersionReader

log = logging.getLogger(__name__)
CACHED_PHRASE_WORDS = 6


@dataclass(frozen=True)
class TurnRequest:
    turn_id: str
    user_id: str
    course_id: str | None
    chatroom_id: str | None
    query: str
    use_personalization: bool


@dataclass
class TurnResult:
    response: str
    sources: list[Source]
    response_source: ResponseSource
    language: str
    threshold: float
    cached: bool = False
    personalized: bool = False
    model_used: str | None = None
    priced_model: str | None = None
    usage: list[UsageItem] = field(default_factory=list)
    documents_retrieved: int = 0
    documents_used: int = 0
    cache_distance: float | None = None
    condensed_query: str | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ChatModels:
    answer: CompatibleOpenAI
    personalize: CompatibleOpenAI
    counter: PromptCounter | None = None  # for servers that stream no usage (llama.cpp)


def to_source(chunk: RetrievedChunk) -> Source:
    return Source(
        content=chunk.text,
        metadata=SourceMetadata(
            material_id=chunk.material_id,
            course_id=chunk.course_id,
            filename=chunk.filename,
            page=chunk.page_ref,
            score=round(chunk.similarity, 4),
            vector_distance=round(chunk.distance, 4),
            chunk_type=chunk.chunk_type,
            page_label=chunk.page_label,
            page_number=chunk.page,
            title=chunk.title or None,
            ocr=chunk.ocr,
            ocr_confidence=chunk.ocr_confidence,
        ),
    )


def phrases(text: str, words: int = CACHED_PHRASE_WORDS) -> list[str]:
    """A finished answer cut into phrase-sized deltas, so cached answers stream like fresh ones."""
    tokens = text.split(" ")
    return [
        " ".join(tokens[i : i + words]) + (" " if i + words < len(tokens) else "")
        for i in range(0, len(tokens), words)
    ]


class ChatService:
    def __init__(
        self,
        settings: Settings,
        embedding: BaseEmbedding,
        retriever: Retriever,
        models: ChatModels,
        versions: VersionReader,
        conversations: ConversationSource,
        cache: AnswerCache | None,
    ) -> None:
        self._settings = settings
        self._embedding = embedding
        self._retriever = retriever
        self._models = models
        self._versions = versions
        self._conversations = conversations
        self._cache = cache

    def _usage(self, purpose: Purpose, model: str, usage: Usage) -> UsageItem:
        return usage_item(
            self._settings, purpose, model, usage.input_tokens, usage.output_tokens, usage.counted
        )

    async def _call(
        self,
        model: CompatibleOpenAI,
        messages: list[ChatMessage],
        purpose: Purpose,
        result: TurnResult,
        parts: list[str],
    ) -> AsyncIterator[Delta]:
        """One streamed LLM call: deltas out, text into ``parts``, its usage into ``result``."""
        timeout = self._settings.openai_timeout_seconds
        async for event in stream_chat(model, messages, timeout, timeout, self._models.counter):
            if isinstance(event, Delta):
                parts.append(event.text)
                yield event
            else:
                result.usage.append(self._usage(purpose, model.model, event))

    async def answer(self, req: TurnRequest) -> AsyncIterator[Delta | TurnResult]:
        s = self._settings
        clock = Stopwatch()
        # The question is embedded while history and profile load; a follow-up that gets
        # condensed is embedded again below.
        embedding = asyncio.create_task(
            self._embedding.aget_query_embedding(normalize_question(req.query))
        )
        try:
            context = await self._conversations.load(
                req.user_id, req.chatroom_id, req.use_personalization
            )
        except BaseException:
            embedding.cancel()
            raise
        clock.lap("context")
        language = context.answer_language or detect_language(req.query)
        usage: list[UsageItem] = []
        question = req.query
        condensed = None
        if context.turns and needs_condensing(req.query):
            condensed_text, used = await complete(
                self._models.answer,
                condense_messages(req.query, context.turns),
                s.openai_timeout_seconds,
                self._models.counter,
            )
            usage.append(self._usage("condense", self._models.answer.model, used))
            if condensed_text.strip():
                question = condensed = condensed_text.strip()[:1000]
            clock.lap("condense")
        if condensed is not None:
            embedding.cancel()
            embedding = asyncio.create_task(
                self._embedding.aget_query_embedding(normalize_question(question))
            )
        vector, version = await asyncio.gather(embedding, self._versions.get(req.course_id))
        clock.lap("embed")
        generator = f"{self._models.answer.model}:{PROMPT_VERSION}"
        scope = CacheScope(req.course_id, version, language, generator)
        personalize = req.use_personalization and s.personalization_enabled and context.has_material
        result = await self._from_cache(vector, scope, language) if self._cache else None
        clock.lap("cache")
        if result is None:
            result = TurnResult("", [], "rag", language, self._retriever.threshold)
            async for event in self._generate(
                question, vector, req.course_id, result, clock, stream=not personalize
            ):
                yield event
            grounded = result.response_source == "rag" and bool(result.sources and result.response)
            if grounded and self._cache is not None:
                await self._store(question, vector, scope, result)
                clock.lap("cache_store")
        elif not personalize:
            for piece in phrases(result.response):
                yield Delta(piece)
        result.usage = usage + result.usage
        result.condensed_query = condensed
        if personalize and result.response_source != "not_covered":
            async for event in self._personalize(result, context, language):
                yield event
            clock.lap("personalize")
        elif personalize:
            for piece in phrases(result.response):
                yield Delta(piece)
        result.timings_ms = clock.laps
        yield result

    async def _from_cache(
        self, vector: list[float], scope: CacheScope, language: str
    ) -> TurnResult | None:
        assert self._cache is not None
        try:
            hit = await self._cache.lookup(vector, scope)
        except (RedisError, OSError, TimeoutError) as exc:  # the cache is an optimisation
            log.warning("semantic cache lookup failed, answering fresh: %s", type(exc).__name__)
            return None
        if hit is None:
            return None
        meta = hit.metadata
        return TurnResult(
            response=hit.response,
            sources=[Source.model_validate(src) for src in meta.get("sources", [])],
            response_source="cache",
            language=language,
            threshold=float(meta.get("threshold", self._retriever.threshold)),
            cached=True,
            model_used=meta.get("model"),
            documents_retrieved=int(meta.get("documents_retrieved", 0)),
            documents_used=int(meta.get("documents_used", 0)),
            cache_distance=round(hit.distance, 4),
        )

    async def _generate(
        self,
        question: str,
        vector: list[float],
        course_id: str | None,
        result: TurnResult,
        clock: Stopwatch,
        stream: bool,
    ) -> AsyncIterator[Delta]:
        retrieval = await self._retriever.retrieve(vector, question, course_id)
        clock.lap("retrieval")
        result.documents_retrieved = len(retrieval.candidates)
        result.documents_used = len(retrieval.kept)
        log.debug(
            "retrieval course=%s kept=%d/%d distances=%s",
            course_id,
            len(retrieval.kept),
            len(retrieval.candidates),
            [round(c.distance, 3) for c in retrieval.candidates],
        )
        if not retrieval.kept:
            result.response_source = "not_covered"
            result.response = not_covered_message(result.language)
            if stream:
                for piece in phrases(result.response):
                    yield Delta(piece)
            return
        model = self._models.answer
        budget = self._settings.context_chars
        used = select_for_prompt(retrieval.kept, budget)
        messages = answer_messages(question, used, result.language, budget)
        clock.lap("prompt")
        parts: list[str] = []
        async for delta in self._call(model, messages, "answer", result, parts):
            if len(parts) == 1:
                clock.lap("llm_first_token")
            if stream:
                yield delta
        clock.lap("llm_stream")
        result.response = "".join(parts).strip()
        result.model_used = result.priced_model = model.model
        if not result.response:
            raise LLMUnavailableError("empty answer")
        if is_refusal(result.response):  # the model found nothing in the sources: not grounded
            result.response_source = "not_covered"
            result.documents_used = 0
            return
        result.sources = [to_source(c) for c in used]
        result.documents_used = len(used)

    async def _store(
        self, question: str, vector: list[float], scope: CacheScope, result: TurnResult
    ) -> None:
        assert self._cache is not None
        metadata = {
            "sources": [src.model_dump() for src in result.sources],
            "model": result.model_used,
            "threshold": result.threshold,
            "documents_retrieved": result.documents_retrieved,
            "documents_used": result.documents_used,
        }
        try:
            await self._cache.store(question, result.response, vector, scope, metadata)
        except (RedisError, OSError, TimeoutError) as exc:  # the answer stands; caching is optional
            log.warning("semantic cache store failed: %s", type(exc).__name__)

    async def _personalize(
        self, result: TurnResult, context: ConversationContext, language: str
    ) -> AsyncIterator[Delta]:
        model = self._models.personalize
        messages = personalize_messages(
            result.response, context.profile_text, context.turns, language
        )
        parts: list[str] = []
        async for delta in self._call(model, messages, "personalize", result, parts):
            yield delta
        if not "".join(parts).strip():
            raise LLMUnavailableError("empty personalized answer")
        result.response = "".join(parts).strip()
        result.personalized = True
        result.model_used = result.priced_model = model.model
