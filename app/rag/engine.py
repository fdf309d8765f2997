"""The streaming query engine: retriever → node postprocessors → synthesizer → answer checks.

The same three steps as LlamaIndex's ``RetrieverQueryEngine`` (retrieve, run the postprocessor
chain, synthesize), with the project's own streaming synthesizer and two additions a tutor needs:
no chunk left after the chain means a fixed "not covered" answer without any LLM call, and the
finished answer passes through :class:`AnswerCheck`\\ s (today: the model's own "the material does
not say"; a grounding check of the answer against its cited chunks plugs in the same way). The
semantic cache and personalization wrap this engine (:mod:`app.services.chat`).

Per turn, the question's :class:`CourseScope` steers two things here: a page the student has open
adds the page-context step to the chain (and fetches more candidates for it to choose from), and
the course's answer modes pick the prompt — once the sources are chosen, because an answer drawing
on a guided material (an exercise sheet) is guided even in a direct course.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import NodeWithScore, QueryBundle

from app.observability.spans import spans_observed
from app.rag.answer import Answer
from app.rag.chain import apply_chain, before_budget
from app.rag.legs import ChunkIndex
from app.rag.nodes import distance, material_ids
from app.rag.page_context import CANDIDATES_FACTOR, for_scope
from app.rag.retriever import CourseRetriever, QueryExpander
from app.rag.scope import CourseScope
from app.rag.synthesizer import StreamingSynthesizer, Synthesis
from app.services.llm import Delta
from app.services.prompt import DEFAULT_PROMPT, AnswerPrompt, is_refusal, not_covered_message
from app.services.timing import Stopwatch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Retrieval:
    retrieved: tuple[NodeWithScore, ...]  # what the retriever returned, best first
    nodes: tuple[NodeWithScore, ...]  # what the postprocessor chain kept for the answer


class AnswerCheck(Protocol):
    """Looks at a finished LLM answer and returns it, or a corrected one."""

    async def check(self, query: QueryBundle, answer: Answer) -> Answer: ...


class RefusalCheck:
    """The model said the sources lack the answer: not grounded, whatever the distances said."""

    async def check(self, query: QueryBundle, answer: Answer) -> Answer:
        if is_refusal(answer.text):
            return replace(answer, source="not_covered", nodes=(), used=0)
        return answer


@dataclass(frozen=True)
class RetrievalConfig:
    top_k: int
    hybrid: bool
    threshold: float  # reported with every answer (``rag_threshold_used``)
    timeout: float


class CourseQueryEngine:
    def __init__(
        self,
        chunks: ChunkIndex,
        config: RetrievalConfig,
        chain: Sequence[BaseNodePostprocessor],
        synthesizer: StreamingSynthesizer,
        checks: Sequence[AnswerCheck] = (RefusalCheck(),),
        expander: QueryExpander | None = None,
        prompts: Mapping[str, AnswerPrompt] | None = None,
    ) -> None:
        self._chunks = chunks
        self._config = config
        self._chain = list(chain)
        self._synthesizer = synthesizer
        self._checks = list(checks)
        self._expander = expander
        # answer mode → prompt; "direct" (and any mode without a prompt of its own) is the default
        self._prompts = {"direct": DEFAULT_PROMPT, **(prompts or {})}

    @property
    def threshold(self) -> float:
        return self._config.threshold

    def prompt_for(self, scope: CourseScope, materials: Iterable[str] = ()) -> AnswerPrompt:
        """The answer prompt for this course, the page the student has open and the materials the
        answer draws on: guided when the course's modes say so for any of them."""
        return self._prompts.get(scope.answer_mode(materials), DEFAULT_PROMPT)

    def generator(self, scope: CourseScope, materials: Iterable[str] = ()) -> str:
        """What writes such an answer (model and prompt version): stored with a cache entry."""
        return self._generator(self.prompt_for(scope, materials))

    def generators(self) -> tuple[str, ...]:
        """Every generator this engine writes with: the cache entries a turn may be served."""
        return tuple(dict.fromkeys(self._generator(p) for p in self._prompts.values()))

    def is_current(self, answer: Answer, scope: CourseScope) -> bool:
        """Would this answer be written the same way for this scope now (same model, same prompt
        for its materials)? A lecturer's switch to guided mode makes older direct answers stale."""
        if answer.generator is None:  # not written by an LLM (a curated answer)
            return True
        return answer.generator == self.generator(scope, material_ids(answer.nodes))

    def _generator(self, prompt: AnswerPrompt) -> str:
        return f"{self._synthesizer.model_name}:{prompt.version}"

    def retriever(self, scope: CourseScope) -> CourseRetriever:
        """A retriever bound to this question's scope (built per question: it is cheap)."""
        config = self._config
        top_k = config.top_k * CANDIDATES_FACTOR if scope.material_id else config.top_k
        return CourseRetriever(
            self._chunks, scope, top_k, config.hybrid, config.timeout, self._expander
        )

    def chain_for(self, scope: CourseScope) -> list[BaseNodePostprocessor]:
        """The postprocessor chain of this question: with the page-context step when a page is
        open (it keeps ``top_k`` of the extra candidates)."""
        step = for_scope(scope, self._config.top_k)
        return self._chain if step is None else before_budget(self._chain, step)

    async def aretrieve(
        self, query: QueryBundle, scope: CourseScope, clock: Stopwatch
    ) -> Retrieval:
        retriever = self.retriever(scope)
        # LlamaIndex's span and events only when a span handler listens (tracing): they cost
        # more than the search itself
        retrieve = retriever.aretrieve if spans_observed() else retriever.aretrieve_uninstrumented
        retrieved = await retrieve(query)
        clock.lap("retrieval")
        nodes = await apply_chain(self.chain_for(scope), list(retrieved), query)
        clock.lap("postprocess")
        log.debug(
            "retrieval course=%s kept=%d/%d distances=%s",
            scope.course_id,
            len(nodes),
            len(retrieved),
            [round(distance(n), 3) for n in retrieved],
        )
        return Retrieval(tuple(retrieved), tuple(nodes))

    async def astream(
        self,
        query: QueryBundle,
        scope: CourseScope,
        language: str,
        clock: Stopwatch,
    ) -> AsyncIterator[Delta | Answer]:
        """The answer's text as it is written (a fixed answer as one piece), then the answer."""
        retrieval = await self.aretrieve(query, scope, clock)
        if not retrieval.nodes:
            text = not_covered_message(language)
            yield Delta(text)
            yield Answer(text, "not_covered", self.threshold, retrieved=len(retrieval.retrieved))
            return
        synthesis: Synthesis | None = None
        prompt = self.prompt_for(scope, material_ids(retrieval.nodes))
        async for event in self._synthesizer.astream(
            query.query_str, retrieval.nodes, language, prompt, clock
        ):
            if isinstance(event, Delta):
                yield event
            else:
                synthesis = event
        assert synthesis is not None  # the synthesizer ends with one or raises
        answer = Answer(
            synthesis.text,
            "rag",
            self.threshold,
            nodes=retrieval.nodes,
            retrieved=len(retrieval.retrieved),
            used=len(retrieval.nodes),
            model=synthesis.model,
            priced_model=synthesis.model,
            usage=(synthesis.usage,),
            generator=self._generator(prompt),
        )
        for check in self._checks:
            answer = await check.check(query, answer)
        yield answer
