"""A curated match as a turn's answer: the lecturer's text, and the pages they referenced as its
cited nodes — what the turn path streams with ``response_source: "curated"``.

The references become LlamaIndex nodes like retrieved chunks, so they reach the wire through the
one node → ``Source`` mapping (``app.ws.sources.to_source``) with page labels, physical pages for
``#page`` links, and excerpts. Their distance is the match of the student's question to the
curated question (the pages were chosen by the lecturer, not ranked), and ``chunk_type`` is
``curated_reference``. A reference to a whole material has no page.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.schema import NodeWithScore, TextNode

from app.core.schema import ChunkField
from app.rag.answer import Answer
from app.rag.nodes import VECTOR_DISTANCE, note
from app.teaching.matcher import CuratedMatch
from app.teaching.references import Reference

CHUNK_TYPE = "curated_reference"


def reference_node(
    reference: Reference, course_id: str, distance: float, node_id: str
) -> NodeWithScore:
    metadata: dict[str, Any] = {
        ChunkField.MATERIAL_ID.value: reference.material_id,
        ChunkField.COURSE_ID.value: course_id,
        ChunkField.FILENAME.value: reference.filename,
        ChunkField.CHUNK_TYPE.value: CHUNK_TYPE,
        ChunkField.POSITION.value: reference.position,
        "title": reference.title,
    }
    if reference.page:
        metadata[ChunkField.PAGE.value] = reference.page
    label = reference.page_label or (str(reference.page) if reference.page else "")
    if label:
        metadata[ChunkField.PAGE_LABEL.value] = label
    node = NodeWithScore(
        node=TextNode(id_=node_id, text=reference.excerpt, metadata=metadata),
        score=round(1.0 - distance, 4),
    )
    note(node, VECTOR_DISTANCE, round(distance, 4))
    return node


def curated_answer(match: CuratedMatch, threshold: float) -> Answer:
    """The answer a turn serves for a curated match: no LLM call, nothing to price or cache.

    ``threshold`` (reported as ``rag_threshold_used``) is the curated-question distance cut.
    """
    record = match.record
    references = [Reference.model_validate(r) for r in record.references]
    nodes = tuple(
        reference_node(r, record.course_id, match.distance, f"curated-{record.id}-{i}")
        for i, r in enumerate(references, 1)
    )
    return Answer(
        record.answer,
        "curated",
        threshold,
        nodes=nodes,
        used=len(nodes),
    )
