"""The turn's stages put together from the settings and the clients the lifespan opened.

One function, so the server and anything else that answers questions (benchmarks, tools) build
the same pipeline; every client comes in as an argument and nothing is global.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

import httpx
import redis.asyncio as aioredis
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.vector_stores.redis import RedisVectorStore
from redisvl.index import AsyncSearchIndex

from app.core.config import Settings
from app.rag.synthesizer import StreamingSynthesizer
from app.services.answer_cache import CachedAnswers, PreparedAnswers
from app.services.cache import AnswerCache
from app.services.chat import ChatService
from app.services.history import ConversationSource
from app.services.llm import PromptCounter, build_llm
from app.services.metered import MeteredLLM
from app.services.personalize import Personalizer
from app.services.prompt import AnswerPrompt
from app.services.query_parts import build_engine, build_query_parts
from app.services.question import QuestionAnalyser
from app.services.scopes import ScopeReader
from app.services.versions import VersionReader


@dataclass(frozen=True)
class TurnExtras:
    """What the teaching loop adds to a turn (see ``app.teaching.turn_extras``)."""

    prepared: Sequence[PreparedAnswers] = ()  # asked before the semantic cache (curated answers)
    scopes: ScopeReader | None = None  # the course's answer modes and the checked page context
    prompts: Mapping[str, AnswerPrompt] = field(default_factory=dict)  # answer mode → prompt


def build_chat_service(
    settings: Settings,
    *,
    embedding: BaseEmbedding,
    store: RedisVectorStore,
    index: AsyncSearchIndex,
    http: httpx.AsyncClient,
    counter: PromptCounter | None,
    versions: VersionReader,
    conversations: ConversationSource,
    cache: AnswerCache | None,
    client: aioredis.Redis,
    extras: TurnExtras | None = None,
    stack: AsyncExitStack | None = None,
) -> ChatService:
    """The turn's stages; ``stack`` gets what must be stopped at shutdown (index builds)."""
    extras = extras or TurnExtras()
    llm = MeteredLLM(settings, counter)
    answer_model = build_llm(settings, settings.model_comprehensive, http)
    personalize_model = build_llm(settings, settings.model_personalized, http)
    synthesizer = StreamingSynthesizer(llm, answer_model, settings.context_chars)
    parts = build_query_parts(
        settings,
        embedding=embedding,
        store=store,
        index=index,
        client=client,
        versions=versions,
        http=http,
        counter=counter,
    )
    if stack is not None and parts.lexical is not None:
        stack.push_async_callback(parts.lexical.aclose)
    return ChatService(
        QuestionAnalyser(embedding, conversations, versions, llm, answer_model),
        build_engine(settings, parts, synthesizer, extras.prompts),
        Personalizer(llm, personalize_model, settings.personalization_enabled),
        CachedAnswers(cache, settings.distance_threshold) if cache is not None else None,
        prepared=extras.prepared,
        scopes=extras.scopes,
    )
