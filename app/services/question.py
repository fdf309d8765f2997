"""Question analysis, the first stage of a turn: everything later stages need to know about the
question, worked out once.

The question is normalized and embedded while the room's history (and the student's profile) load
— the embedding is the costliest step before the answer and needs nothing from the database. A
follow-up that leans on earlier turns ("apa saja komponennya?") is rewritten as a standalone
question first and embedded again. The answer language comes from the profile, else from the
question's own words. The course's content version is read alongside, for the cache scope and
for retrieval (each course's own version: the lexical leg's index must be of that version).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.schema import QueryBundle

from app.protocol.messages import UsageItem
from app.services.history import ConversationContext, ConversationSource
from app.services.lexical import detect_language, needs_condensing, normalize_question
from app.services.llm import CompatibleOpenAI
from app.services.metered import MeteredLLM
from app.services.prompt import condense_messages
from app.services.timing import Stopwatch
from app.services.turn import TurnRequest
from app.services.versions import VersionReader

MAX_CONDENSED_CHARS = 1000


@dataclass(frozen=True)
class Question:
    asked: str  # as the student typed it
    text: str  # what is answered: the standalone form of a follow-up, else ``asked``
    condensed: str | None  # the standalone form, when the question was rewritten
    language: str  # the answer language, "id" or "en"
    embedding: tuple[float, ...]  # of ``normalize_question(text)``
    context: ConversationContext
    content_version: str  # of the course's material, when the question was asked
    usage: tuple[UsageItem, ...] = ()  # the condensing call, if there was one
    course_versions: Mapping[str, str] = field(default_factory=dict)  # each course's, read then

    def bundle(self) -> QueryBundle:
        """The question as LlamaIndex's query: retrievers reuse its embedding."""
        return QueryBundle(query_str=self.text, embedding=list(self.embedding))


class QuestionAnalyser:
    def __init__(
        self,
        embedding: BaseEmbedding,
        conversations: ConversationSource,
        versions: VersionReader,
        llm: MeteredLLM,
        condense_model: CompatibleOpenAI,
    ) -> None:
        self._embedding = embedding
        self._conversations = conversations
        self._versions = versions
        self._llm = llm
        self._condense_model = condense_model

    def _embed(self, text: str) -> asyncio.Task[list[float]]:
        return asyncio.create_task(self._embedding.aget_query_embedding(normalize_question(text)))

    async def analyse(self, req: TurnRequest, clock: Stopwatch) -> Question:
        embedding = self._embed(req.query)
        try:
            context = await self._conversations.load(
                req.user_id, req.chatroom_id, req.use_personalization
            )
            clock.lap("context")
            language = context.answer_language or detect_language(req.query)
            condensed: str | None = None
            usage: tuple[UsageItem, ...] = ()
            if context.turns and needs_condensing(req.query):
                condensed, item = await self._condense(req.query, context)
                usage = (item,)
                clock.lap("condense")
            if condensed is not None:
                embedding.cancel()
                embedding = self._embed(condensed)
            vector, (version, each) = await asyncio.gather(
                embedding, self._versions.each(req.course_ids)
            )
        except BaseException:
            embedding.cancel()
            raise
        clock.lap("embed")
        return Question(
            asked=req.query,
            text=condensed or req.query,
            condensed=condensed,
            language=language,
            embedding=tuple(vector),
            context=context,
            content_version=version,
            usage=usage,
            course_versions=each,
        )

    async def _condense(
        self, question: str, context: ConversationContext
    ) -> tuple[str | None, UsageItem]:
        text, usage = await self._llm.complete(
            self._condense_model, condense_messages(question, context.turns), "condense"
        )
        standalone = text.strip()[:MAX_CONDENSED_CHARS]
        return standalone or None, usage
