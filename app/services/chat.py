"""One student turn, stage by stage: question analysis → the turn's course scope → prepared
answers (a lecturer's curated answers, then the semantic cache) → the query engine → cache store →
personalization, then the result, built once.

Each stage is its own module and returns a value; this module only orders them, forwards the
answer's text as :class:`TextDelta`\\ s (a fixed, curated or cached answer as one whole piece:
cutting text into frames is the WebSocket layer's job) and laps the stopwatch behind
``timings_ms``. An answer that will be personalized is not streamed as first written; the rewrite
is. A prepared answer is served only if the engine would write it the same way for this scope now
(same model, same prompt: a cached direct answer is stale once its material became guided).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import replace

from app.rag.answer import Answer
from app.rag.engine import CourseQueryEngine
from app.rag.scope import CourseScope
from app.services.answer_cache import CachedAnswers, PreparedAnswers
from app.services.cache import CacheScope, page_context_tag
from app.services.llm import Delta
from app.services.personalize import Personalized, Personalizer
from app.services.question import Question, QuestionAnalyser
from app.services.scopes import PlainScopes, ScopeReader
from app.services.timing import Stopwatch
from app.services.turn import DeltaCounter, TextDelta, TurnRequest, TurnResult


class ChatService:
    def __init__(
        self,
        analyser: QuestionAnalyser,
        engine: CourseQueryEngine,
        personalizer: Personalizer,
        cache: CachedAnswers | None,
        prepared: Sequence[PreparedAnswers] = (),
        scopes: ScopeReader | None = None,
    ) -> None:
        self._analyser = analyser
        self._engine = engine
        self._personalizer = personalizer
        self._cache = cache
        self._scopes = scopes or PlainScopes()
        # asked in order before the engine: curated answers first, the cache last
        self._prepared = [*prepared, *([cache] if cache is not None else [])]

    async def answer(self, req: TurnRequest) -> AsyncIterator[TextDelta | TurnResult]:
        clock = Stopwatch()
        delta = DeltaCounter(req.turn_id)
        question = await self._analyser.analyse(req, clock)
        course = (await self._scopes.scope(req)).at(question.course_versions)
        clock.lap("scope")
        scope = CacheScope(
            req.course_ids,
            question.content_version,
            question.language,
            self._engine.generators(),
            page_context_tag(course.material_id, course.page),
        )
        personalize = self._personalizer.wanted(req.use_personalization, question.context)
        answer = await self._prepared_answer(question, scope, course, clock)
        streamed = False
        if answer is None:
            async for event in self._engine.astream(
                question.bundle(), course, question.language, clock
            ):
                if isinstance(event, Answer):
                    answer = event
                elif not personalize:
                    yield delta(event.text)
            assert answer is not None  # the engine ends with its answer or raises
            streamed = not personalize
            if self._cache is not None and answer.grounded:
                key = await self._cache.store(question, scope, answer)
                clock.lap("cache_store")
                answer = replace(answer, cache_key=key)
        personalized = None
        if personalize and answer.personalizable:
            async for rewrite in self._personalizer.astream(
                answer.text, question.context, question.language
            ):
                if isinstance(rewrite, Delta):
                    yield delta(rewrite.text)
                else:
                    personalized = rewrite
            clock.lap("personalize")
        elif not streamed:
            yield delta(answer.text)
            answer = replace(answer, revised=False)  # what went out is the checked text
        yield _result(question, answer, personalized, clock)

    async def _prepared_answer(
        self, question: Question, scope: CacheScope, course: CourseScope, clock: Stopwatch
    ) -> Answer | None:
        def accept(answer: Answer) -> bool:
            return self._engine.is_current(answer, course)

        for source in self._prepared:
            answer = await source.lookup(question, scope, accept)
            clock.lap(source.name)
            if answer is not None:
                return answer
        return None


def _result(
    question: Question, answer: Answer, personalized: Personalized | None, clock: Stopwatch
) -> TurnResult:
    extra = (personalized.usage,) if personalized else ()
    return TurnResult(
        response=personalized.text if personalized else answer.text,
        sources=answer.nodes,
        response_source=answer.source,
        language=question.language,
        threshold=answer.threshold,
        cached=answer.source == "cache",
        personalized=personalized is not None,
        model_used=personalized.model if personalized else answer.model,
        priced_model=personalized.model if personalized else answer.priced_model,
        usage=(*question.usage, *answer.usage, *extra),
        documents_retrieved=answer.retrieved,
        documents_used=answer.used,
        cache_distance=answer.cache_distance,
        condensed_query=question.condensed,
        timings_ms=dict(clock.laps),
        cache_key=answer.cache_key,
        not_covered_reason=answer.not_covered_reason,
        revised=answer.revised and personalized is None,  # a rewrite streams the checked text
        removed=answer.removed,
    )
