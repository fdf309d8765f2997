"""The page-context postprocessor on NodeWithScore lists shaped like the Redis store returns them."""

from __future__ import annotations

import pytest
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from app.rag.page_context import PageContextPostprocessor


def node(material: str, page: int | str, score: float, label: str | None = None) -> NodeWithScore:
    metadata = {"material_id": material, "page": page, "page_label": label or str(page)}
    text = f"{material} p{page}"
    return NodeWithScore(node=TextNode(id_=text, text=text, metadata=metadata), score=score)


def ids(nodes: list[NodeWithScore]) -> list[str]:
    return [n.node.node_id for n in nodes]


NODES = [
    node("mod7", 3, 0.900),
    node("mod6", 40, 0.895),
    node("mod6", 14, 0.890),
    node("mod6", 16, 0.885),
    node("mod7", 14, 0.880),
]


def test_open_page_and_its_neighbours_move_up_other_material_keeps_its_order() -> None:
    post = PageContextPostprocessor(material_id="mod6", page=15)
    out = post.postprocess_nodes(list(NODES), QueryBundle("apa arti rumus ini"))
    assert ids(out) == ["mod6 p14", "mod6 p16", "mod6 p40", "mod7 p3", "mod7 p14"]
    assert [n.score for n in out] == [0.890, 0.885, 0.895, 0.900, 0.880]  # scores untouched


def test_a_clearly_better_chunk_elsewhere_still_wins() -> None:
    nodes = [node("mod7", 3, 0.95), node("mod6", 15, 0.90)]
    out = PageContextPostprocessor(material_id="mod6", page=15).postprocess_nodes(nodes)
    assert ids(out) == ["mod7 p3", "mod6 p15"]


def test_material_without_page_prefers_the_material_only_a_little() -> None:
    post = PageContextPostprocessor(material_id="mod6")
    assert post.bonus(node("mod6", 99, 0.5)) == pytest.approx(0.01)
    assert post.bonus(node("mod7", 99, 0.5)) == 0.0
    out = post.postprocess_nodes([node("mod7", 1, 0.905), node("mod6", 2, 0.9)])
    assert ids(out) == ["mod6 p2", "mod7 p1"]
    assert (
        ids(post.postprocess_nodes([node("mod7", 1, 0.92), node("mod6", 2, 0.9)]))[0] == "mod7 p1"
    )


def test_bonus_falls_off_over_the_window_and_reads_string_pages() -> None:
    post = PageContextPostprocessor(material_id="m", page=10, window=2)
    bonuses = [post.bonus(node("m", p, 0.0)) for p in (10, 11, "12", 13, "x")]
    assert bonuses == pytest.approx([0.04, 0.03, 0.02, 0.01, 0.01])


async def test_top_n_cuts_after_reordering_and_async_matches_sync() -> None:
    post = PageContextPostprocessor(material_id="mod6", page=15, top_n=2)
    sync = post.postprocess_nodes(list(NODES))
    assert ids(sync) == ["mod6 p14", "mod6 p16"]
    assert ids(await post.apostprocess_nodes(list(NODES))) == ids(sync)
    assert PageContextPostprocessor(material_id="x").postprocess_nodes([]) == []


def test_ties_keep_the_retrievers_order() -> None:
    nodes = [node("a", 1, 0.5), node("b", 1, 0.5), node("c", 1, 0.5)]
    assert ids(PageContextPostprocessor(material_id="z").postprocess_nodes(nodes)) == [
        "a p1",
        "b p1",
        "c p1",
    ]
