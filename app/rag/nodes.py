"""Reading a retrieved chunk: one ``NodeWithScore`` from Redis to the wire, read through these.

A chunk keeps the metadata ingestion gave it (course, material, file, page, page label, position,
chunk type); retrieval adds what it learned about the chunk for this question — the cosine
distance and each leg's rank — to the same metadata, because a reranker replaces
``NodeWithScore.score`` with its own relevance while the distance still decides "covered or not"
and is what the wire reports. Those keys are hidden from the LLM and embedding views of the node.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from llama_index.core.schema import NodeWithScore

from app.core.schema import ChunkField

VECTOR_DISTANCE = "vector_distance"  # cosine distance to the question (0 = same direction)
UNKNOWN_DISTANCE = 2.0  # the largest cosine distance: used when no vector could be compared
RANK_SUFFIX = "_rank"  # "<leg>_rank": 1-based rank in that retrieval leg's list


def rank_key(leg: str) -> str:
    return f"{leg}{RANK_SUFFIX}"


def note(node: NodeWithScore, key: str, value: float | int) -> None:
    """Record a retrieval fact on the node, outside what the LLM or an embedding sees."""
    inner = node.node
    inner.metadata[key] = value
    for hidden in (inner.excluded_llm_metadata_keys, inner.excluded_embed_metadata_keys):
        if key not in hidden:
            hidden.append(key)


def _raw(node: NodeWithScore, key: str, default: Any = None) -> Any:
    value = node.node.metadata.get(key, default)
    return value.decode() if isinstance(value, bytes) else value


def text_of(node: NodeWithScore) -> str:
    return node.node.get_content()


def meta(node: NodeWithScore, key: str, default: str = "") -> str:
    value = _raw(node, key)
    return default if value is None else str(value)


def distance(node: NodeWithScore) -> float:
    value = _raw(node, VECTOR_DISTANCE)
    return UNKNOWN_DISTANCE if value is None else float(value)


def rank(node: NodeWithScore, leg: str) -> int | None:
    value = _raw(node, rank_key(leg))
    return None if value is None else int(value)


def page_number(node: NodeWithScore) -> int:
    """The physical page, 1-based."""
    return int(float(meta(node, ChunkField.PAGE.value, "0") or 0))


def page_label(node: NodeWithScore) -> str:
    """The PDF's own label of the page (``iv``, ``15``), else the physical page number; empty
    for a node without a page (a curated answer's reference to a whole material)."""
    number = page_number(node)
    return meta(node, ChunkField.PAGE_LABEL.value) or (str(number) if number else "")


def position(node: NodeWithScore) -> int:
    """Which chunk of its page this is, 1-based."""
    return int(float(meta(node, ChunkField.POSITION.value, "1") or 1))


def material_ids(nodes: Iterable[NodeWithScore]) -> list[str]:
    """The materials these chunks come from, in order, once each."""
    return list(dict.fromkeys(m for n in nodes if (m := meta(n, ChunkField.MATERIAL_ID.value))))
