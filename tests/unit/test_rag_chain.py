"""The node postprocessor chain (registry, dotted paths, errors), its two built-in steps, and the
one mapping from a node to the wire ``Source``."""

from __future__ import annotations

from pathlib import Path

import pytest
from llama_index.core.postprocessor import LongContextReorder
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle, TextNode

from app.core.config import Settings
from app.rag.chain import REGISTRY, ChainConfigError, apply_chain, build_chain
from app.rag.nodes import VECTOR_DISTANCE, note
from app.rag.postprocessors import DistanceCutoff, PromptBudget
from app.services.answer_cache import restore_node, stored_node
from app.ws.sources import to_source
from tests.support.settings import isolated_settings


def settings(tmp_path: Path, **overrides: object) -> Settings:
    return isolated_settings("unit", tmp_path, **overrides)


def hit(
    node_id: str, distance: float, score: float, text: str = "isi", **meta: object
) -> NodeWithScore:
    metadata = {"course_id": "c1", "material_id": "m1", "filename": "modul.pdf", "title": "Modul",
                "page": 7, "page_label": "vii", "position": 2, "chunk_type": "text", **meta}  # fmt: skip
    node = NodeWithScore(node=TextNode(id_=node_id, text=text, metadata=metadata), score=score)
    note(node, VECTOR_DISTANCE, distance)
    return node


class KeepFirst(BaseNodePostprocessor):
    """A postprocessor of someone else's, built by its own ``from_settings``."""

    keep: int = 1

    @classmethod
    def from_settings(cls, settings: Settings) -> KeepFirst:
        return cls(keep=1 if settings.rag_top_k < 5 else 2)

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        return nodes[: self.keep]


def keep_none(settings: Settings) -> BaseNodePostprocessor:
    return DistanceCutoff(threshold=0.0)


def not_a_postprocessor(settings: Settings) -> object:
    return "nope"


def test_default_chain_is_the_cut_then_the_budget(tmp_path: Path) -> None:
    chain = build_chain(settings(tmp_path, rag_distance_threshold=0.2, rag_max_context_chars=900))
    assert [type(p) for p in chain] == [DistanceCutoff, PromptBudget]
    assert chain[0].threshold == 0.2 and chain[1].max_chars == 900  # type: ignore[attr-defined]
    assert set(REGISTRY) >= {"distance_cutoff", "prompt_budget"}


def test_setting_names_registry_entries_and_dotted_paths(tmp_path: Path) -> None:
    names = (
        "distance_cutoff, llama_index.core.postprocessor:LongContextReorder, "
        "tests.unit.test_rag_chain.KeepFirst,tests.unit.test_rag_chain:keep_none,prompt_budget"
    )
    chain = build_chain(settings(tmp_path, rag_postprocessors=names, rag_top_k=8))
    kinds = [type(p) for p in chain]
    assert kinds == [DistanceCutoff, LongContextReorder, KeepFirst, DistanceCutoff, PromptBudget]
    assert chain[2].keep == 2  # type: ignore[attr-defined]  # built by its from_settings


@pytest.mark.parametrize(
    ("names", "message"),
    [
        ("no_such_step", "unknown postprocessor 'no_such_step'"),
        ("app.rag.nothing_here:Step", "cannot import"),
        ("tests.unit.test_rag_chain:Missing", "cannot import"),
        (
            "tests.unit.test_rag_chain:not_a_postprocessor",
            "not a llama_index BaseNodePostprocessor",
        ),
        ("tests.unit.test_rag_chain:REGISTRY", "not a class or a factory"),
    ],
)
def test_bad_names_stop_the_chain_with_a_clear_error(
    tmp_path: Path, names: str, message: str
) -> None:
    with pytest.raises(ChainConfigError, match=message):
        build_chain(settings(tmp_path, rag_postprocessors=names))


async def test_cut_reads_the_recorded_distance_not_the_score() -> None:
    nodes = [hit("a", 0.10, score=0.01), hit("b", 0.30, score=0.99), hit("c", 0.15, score=0.5)]
    kept = await DistanceCutoff(threshold=0.16).apostprocess_nodes(nodes)
    assert [n.node.node_id for n in kept] == ["a", "c"]
    unknown = NodeWithScore(node=TextNode(id_="u", text="x"), score=1.0)  # no distance recorded
    assert DistanceCutoff(threshold=1.0).postprocess_nodes([unknown]) == []


async def test_chain_runs_in_order_like_retriever_query_engine() -> None:
    nodes = [hit(str(i), 0.1 + i / 100, 1 - i / 10, text="kata " * 50) for i in range(5)]
    budget = PromptBudget(max_chars=600)  # each chunk is 250 characters: two fit
    out = await apply_chain([DistanceCutoff(threshold=0.125), budget], nodes, QueryBundle("q"))
    assert [n.node.node_id for n in out] == ["0", "1"]
    out = await apply_chain([LongContextReorder(), budget], nodes, QueryBundle("q"))
    assert [n.node.node_id for n in out] == ["0", "2"]  # reordered 0,2,4,3,1; budget keeps two


def test_one_mapping_to_the_wire_and_through_the_cache() -> None:
    node = hit("c1:m1:7:2", 0.123456, score=0.03, text="Router meneruskan paket.")
    source = to_source(node)
    assert source.content == "Router meneruskan paket."
    meta = source.metadata
    assert (meta.course_id, meta.material_id, meta.filename) == ("c1", "m1", "modul.pdf")
    assert (meta.page, meta.page_label, meta.page_number) == ("vii.2", "vii", 7)
    assert (meta.vector_distance, meta.score) == (0.1235, 0.8765)  # distance, not the fused score
    assert meta.chunk_type == "text" and meta.title == "Modul"
    restored = restore_node(stored_node(node))
    assert to_source(restored) == source
    assert "vector_distance" not in restored.node.get_content(metadata_mode=MetadataMode.LLM)
