"""The streaming query engine: retriever → node postprocessors → synthesizer → answer checks.

The same three steps as LlamaIndex's ``RetrieverQueryEngine`` (retrieve, run the postprocessor
chain, synthesize), with the project's own streaming synthesizer and what a tutor needs around
them: the question is also searched in the material's language when it is asked in another one
(a :class:`~app.rag.crosslingual.CrossLingualExpander`, lap ``translate``); the refusal gate
(:class:`~app.rag.checks.RefusalGate`) or an empty chain means a fixed "not covered" answer
without any LLM call; an LLM reranker, when configured, is built per turn (its call is itemised
in the usage); and the finished answer passes through :class:`AnswerCheck`\\ s (the model's own
"the material does not say", then the grounding check against the cited chunks). The semantic
cache and personalization wrap this engine (:mod:`app.services.chat`).

Per turn, the question's :class:`CourseScope` steers two things here: a page the student has open
adds the page-context step to the chain (and fetches more candidates for it to choose from), and
the course's answer modes pick the prompt — once the sources are chosen, because an answer drawing
on a guided material (an exercise sheet) is guided even in a direct course.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import NodeWithScore, QueryBundle

from app.observability.spans import spans_observed
from app.protocol.messages import NotCoveredReason, UsageItem
from app.rag.answer import Answer
from app.rag.chain import apply_chain, before_budget
from app.rag.checks import RefusalGate
from app.rag.crosslingual import CrossLingualExpander, Translation
from app.rag.legs import ChunkIndex
from app.rag.nodes import distance, material_ids
from app.rag.page_context import CANDIDATES_FACTOR, for_scope
from app.rag.postprocessors import DistanceCutoff
from app.rag.rerank import LLMChoiceRerank
from app.rag.retriever import CourseRetriever, QueryExpander
from app.rag.scope import CourseScope
from app.rag.synthesizer import StreamingSynthesizer, Synthesis
from app.services.llm import Delta, Usage
from app.services.prompt import DEFAULT_PROMPT, AnswerPrompt, is_refusal, not_covered_message
from app.services.timing import Stopwatch
from app.services.usage import Purpose

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Retrieval:
    retrieved: tuple[NodeWithScore, ...]  # what the retriever returned, best first
    nodes: tuple[NodeWithScore, ...]  # what the postprocessor chain kept for the answer
    usage: tuple[UsageItem, ...] = ()  # LLM calls of retrieval (translation, rerank)
    refused: NotCoveredReason | None = None  # "not covered" decided before the LLM, and by what
    reason: str = ""  # the refusal gate's reason, for the log


class AnswerCheck(Protocol):
    """Looks at a finished LLM answer and returns it, or a corrected one."""

    async def check(self, query: QueryBundle, answer: Answer, language: str) -> Answer: ...


class RefusalCheck:
    """The model said the sources lack the answer: not grounded, whatever the distances said."""

    async def check(self, query: QueryBundle, answer: Answer, language: str) -> Answer:
        if is_refusal(answer.text):
            return replace(
                answer, source="not_covered", nodes=(), used=0, not_covered_reason="model"
            )
        return answer


Pricer = Callable[[Purpose, str, Usage], UsageItem]
RerankFactory = Callable[[], LLMChoiceRerank]


@dataclass(frozen=True)
class RetrievalConfig:
    top_k: int
    hybrid: bool  # fuse the chunk index's lexical leg with the dense one
    threshold: float  # reported with every answer (``rag_threshold_used``)
    timeout: float
    pool: int = 20  # candidates per list before fusion
    rerank_candidates: int = 0  # chunks retrieved for a reranker to choose ``top_k`` from


@dataclass(frozen=True)
class QueryExtras:
    """The optional parts of the query path (built from settings in
    ``app.services.query_parts``): cross-lingual search, a reranker built per turn, the refusal
    gate, and how an LLM call of retrieval is priced."""

    expander: CrossLingualExpander | None = None
    rerank: RerankFactory | None = None
    gate: RefusalGate | None = None
    price: Pricer | None = None
    translation_model: str = ""  # the model an ``llm`` translation is priced as


class _Fixed:
    """The turn's translations, already made, as the retriever's ``QueryExpander``."""

    def __init__(self, queries: Sequence[QueryBundle]) -> None:
        self._queries = list(queries)

    async def expand(self, query: QueryBundle, scope: CourseScope) -> Sequence[QueryBundle]:
        return self._queries


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
        extras: QueryExtras | None = None,
    ) -> None:
        self._chunks = chunks
        self._config = config
        self._chain = list(chain)
        self._synthesizer = synthesizer
        self._checks = list(checks)
        self._expander = expander
        self._extras = extras or QueryExtras()
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

    def retriever(
        self,
        scope: CourseScope,
        expander: QueryExpander | None = None,
        top_k: int | None = None,
    ) -> CourseRetriever:
        """A retriever bound to this question's scope (built per question: it is cheap)."""
        config = self._config
        k = top_k or config.top_k
        if top_k is None:  # the turn's own retrieval: room for the steps that choose among more
            k = k * CANDIDATES_FACTOR if scope.material_id else k
            k = max(k, config.rerank_candidates) if self._extras.rerank is not None else k
        return CourseRetriever(
            self._chunks,
            scope,
            k,
            config.hybrid,
            config.timeout,
            expander or self._expander,
            config.pool,
        )

    def chain_for(
        self, scope: CourseScope, rerank: BaseNodePostprocessor | None = None
    ) -> list[BaseNodePostprocessor]:
        """The postprocessor chain of this question: the turn's reranker right after the
        distance cut, and the page-context step when a page is open (it keeps ``top_k`` of the
        extra candidates)."""
        chain = self._chain
        if rerank is not None:
            at = next((i + 1 for i, s in enumerate(chain) if isinstance(s, DistanceCutoff)), 0)
            chain = [*chain[:at], rerank, *chain[at:]]
        step = for_scope(scope, self._config.top_k)
        return chain if step is None else before_budget(chain, step)

    async def translations(
        self, query: QueryBundle, scope: CourseScope, clock: Stopwatch
    ) -> list[tuple[Translation, QueryBundle]]:
        """The question in the material's other language(s) (lap ``translate`` when any)."""
        expander = self._extras.expander
        if expander is None:
            return []
        found = await expander.translations(query, scope)
        if found:
            clock.lap("translate")
        return found

    def _priced(self, purpose: Purpose, model: str, usage: Usage) -> UsageItem | None:
        price = self._extras.price
        return None if price is None else price(purpose, model, usage)

    async def aretrieve(
        self, query: QueryBundle, scope: CourseScope, clock: Stopwatch, top_k: int | None = None
    ) -> Retrieval:
        translated = await self.translations(query, scope, clock)
        expander = _Fixed([bundle for _, bundle in translated]) if translated else None
        retriever = self.retriever(scope, expander, top_k)
        # LlamaIndex's span and events only when a span handler listens (tracing): they cost
        # more than the search itself
        retrieve = retriever.aretrieve if spans_observed() else retriever.aretrieve_uninstrumented
        retrieved = await retrieve(query)
        clock.lap("retrieval")
        usage = [
            item
            for t, _ in translated
            if t.usage is not None
            and (item := self._priced("translate", self._extras.translation_model, t.usage))
        ]
        if self._extras.gate is not None:
            first = translated[0][0] if translated else None
            verdict = await self._extras.gate.verdict(query, retrieved, scope, first)
            if verdict.refuse:
                clock.lap("postprocess")
                log.info("refused before the LLM, course=%s: %s", scope.course_id, verdict.reason)
                return Retrieval(tuple(retrieved), (), tuple(usage), "refusal_gate", verdict.reason)
        rerank = self._extras.rerank() if self._extras.rerank is not None else None
        nodes = await apply_chain(self.chain_for(scope, rerank), list(retrieved), query)
        if rerank is not None:
            model = str(getattr(rerank.llm, "model", ""))
            usage += [i for u in rerank.last_usage if (i := self._priced("rerank", model, u))]
        clock.lap("postprocess")
        log.debug(
            "retrieval course=%s kept=%d/%d distances=%s",
            scope.course_id,
            len(nodes),
            len(retrieved),
            [round(distance(n), 3) for n in retrieved],
        )
        return Retrieval(tuple(retrieved), tuple(nodes), tuple(usage))

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
            yield Answer(
                text,
                "not_covered",
                self.threshold,
                retrieved=len(retrieval.retrieved),
                usage=retrieval.usage,
                not_covered_reason=retrieval.refused or "no_sources",
            )
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
            usage=(*retrieval.usage, synthesis.usage),
            generator=self._generator(prompt),
        )
        guided = scope.answer_mode(material_ids(retrieval.nodes)) != "direct"
        for check in self._checks:
            if guided and getattr(check, "claims_only", False):
                continue  # the grounding check reads claims; a guided answer asks questions
            answer = await check.check(query, answer, language)
        yield answer
