"""The project's own node postprocessors: "close enough to count" and "what fits the prompt".

Both are plain LlamaIndex ``BaseNodePostprocessor``\\ s, so they sit in one chain with any other
postprocessor or reranker (see :mod:`app.rag.chain`). They are pure and cheap, so their async form
runs inline (LlamaIndex's default hops to a worker thread) and skips the instrumentation span
LlamaIndex wraps around ``_postprocess_nodes``, which costs more than the work itself.
"""

from __future__ import annotations

from llama_index.core.bridge.pydantic import Field
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import NodeWithScore, QueryBundle

from app.rag.nodes import distance, text_of


class DistanceCutoff(BaseNodePostprocessor):
    """Keeps chunks whose cosine distance to the question is at most ``threshold``.

    Reads the distance retrieval recorded on the node (not ``NodeWithScore.score``, which a
    reranker or fusion replaces), so it means the same wherever it sits in the chain. No chunk
    left means "not covered": the turn answers so without calling the LLM.
    """

    threshold: float = Field(ge=0.0, le=2.0)

    @classmethod
    def class_name(cls) -> str:
        return "DistanceCutoff"

    def _keep(self, nodes: list[NodeWithScore]) -> list[NodeWithScore]:
        return [node for node in nodes if distance(node) <= self.threshold]

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        return self._keep(nodes)

    async def _apostprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        return self._keep(nodes)


class PromptBudget(BaseNodePostprocessor):
    """The best chunks that fit ``max_chars`` of prompt, whole, in rank order; the best always.

    Prompt length is what a CPU model pays for first (time to first token), so the budget is spent
    on complete chunks rather than on fragments of many; the best chunk is cut to the budget when
    it alone is longer (the prompt builder cuts it).
    """

    max_chars: int = Field(gt=0)

    @classmethod
    def class_name(cls) -> str:
        return "PromptBudget"

    def _keep(self, nodes: list[NodeWithScore]) -> list[NodeWithScore]:
        selected: list[NodeWithScore] = []
        used = 0
        for node in nodes:
            size = len(text_of(node))
            if selected and used + size > self.max_chars:
                continue
            selected.append(node)
            used += size
        return selected

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        return self._keep(nodes)

    async def _apostprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        return self._keep(nodes)
