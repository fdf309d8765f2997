"""Prefer the material, and the pages around the page, the student has open next to the chat.

A student reading page 14 of module 6 who asks "what does this formula mean?" most likely means a
formula on pages 13-15 of module 6, even when another module explains a similar formula a little
closer to the question's wording. This node postprocessor reorders retrieved nodes by their
similarity plus a small bonus: one for the open material, and a larger one that falls off with the
distance from the open page. The bonuses are small against the spread of relevant similarities, so
a clearly better chunk elsewhere still wins; they decide near-ties.

The bonus is weighed against the cosine similarity retrieval recorded on each node (else the
node's score), and a node only ever moves up past nodes with a smaller bonus that it now beats:
nodes keep the order they arrived in otherwise, so the order a fusion or a reranker chose among
other chunks stands. Scores are left as they are; ``top_n`` can cut the list after reordering, so
a retriever may fetch a few more candidates and let this choose (:func:`for_scope` does). Node
metadata used: ``material_id`` and ``page`` (physical, 1-based).

In a turn, the engine runs it when the question's :class:`~app.rag.scope.CourseScope` carries a
page context, right before the prompt budget (after the distance cut and any reranker).
"""

from __future__ import annotations

from llama_index.core.bridge.pydantic import Field
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import NodeWithScore, QueryBundle

from app.rag.nodes import VECTOR_DISTANCE
from app.rag.scope import CourseScope

CANDIDATES_FACTOR = 2  # with a page open, retrieval fetches 2 × top k; this keeps the best top k


def _similarity(node: NodeWithScore) -> float:
    """The cosine similarity retrieval recorded (a fused or reranked score is on another scale)."""
    recorded = node.node.metadata.get(VECTOR_DISTANCE)
    if recorded is not None:
        return 1.0 - float(recorded)
    return node.score or 0.0


def _page(value: object) -> int | None:
    try:
        return int(float(str(value)))
    except (TypeError, ValueError):
        return None


class PageContextPostprocessor(BaseNodePostprocessor):
    material_id: str = Field(description="the material the student has open")
    page: int | None = Field(default=None, ge=1, description="the physical page open, 1-based")
    window: int = Field(default=2, ge=0, description="pages on each side that count as near")
    material_bonus: float = Field(default=0.01, ge=0.0, description="for any page of the material")
    page_bonus: float = Field(
        default=0.03, ge=0.0, description="for the open page; falls off linearly over the window"
    )
    top_n: int | None = Field(default=None, ge=1, description="keep this many after reordering")

    @classmethod
    def class_name(cls) -> str:
        return "PageContextPostprocessor"

    def bonus(self, node: NodeWithScore) -> float:
        """How much this node's similarity is raised for ordering (0 for other materials)."""
        metadata = node.node.metadata
        if str(metadata.get("material_id", "")) != self.material_id:
            return 0.0
        bonus = self.material_bonus
        page = _page(metadata.get("page"))
        if self.page is not None and page is not None:
            distance = abs(page - self.page)
            if distance <= self.window:
                bonus += self.page_bonus * (1.0 - distance / (self.window + 1))
        return bonus

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        ordered: list[tuple[float, float, NodeWithScore]] = []  # (bonus, similarity + bonus, node)
        for node in nodes:
            bonus = self.bonus(node)
            key = _similarity(node) + bonus
            at = len(ordered)
            while at > 0 and ordered[at - 1][0] < bonus and ordered[at - 1][1] < key:
                at -= 1
            ordered.insert(at, (bonus, key, node))
        kept = [node for _, _, node in ordered]
        return kept[: self.top_n] if self.top_n is not None else kept

    async def _apostprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        return self._postprocess_nodes(nodes, query_bundle)  # arithmetic only: no thread needed


def for_scope(scope: CourseScope, top_k: int) -> PageContextPostprocessor | None:
    """The page-context step of a turn whose student has a page open (keeps ``top_k``), or None."""
    if scope.material_id is None:
        return None
    return PageContextPostprocessor(material_id=scope.material_id, page=scope.page, top_n=top_k)
