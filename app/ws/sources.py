"""The one place a retrieved chunk becomes a wire ``Source``.

Until here a chunk is a LlamaIndex ``NodeWithScore`` (fresh from retrieval or restored from the
semantic cache); the ``chat_response`` frame and the stored turn both take their sources from
:func:`to_source`. A chunk field the wire should carry (say, whether the page was read by OCR and
how confident that was) is added to ``SourceMetadata`` and read from the node's metadata here.
"""

from __future__ import annotations

from collections.abc import Iterable

from llama_index.core.schema import NodeWithScore

from app.core.schema import ChunkField
from app.protocol.messages import Source, SourceMetadata
from app.rag.nodes import distance, meta, page_label, page_number, position, text_of


def _ocr(node: NodeWithScore) -> tuple[bool, float | None]:
    """Whether the page was read by OCR (stored as 1: Redis hashes hold no booleans) and how
    confident OCR was in it."""
    facts = node.node.metadata
    if not facts.get("ocr") or str(facts.get("ocr")) in ("0", "False", "false"):
        return False, None
    confidence = facts.get("ocr_confidence")
    try:
        return True, None if confidence is None else round(float(confidence), 3)
    except (TypeError, ValueError):
        return True, None


def to_source(node: NodeWithScore) -> Source:
    gap = distance(node)
    label = page_label(node)
    ocr, ocr_confidence = _ocr(node)
    return Source(
        content=text_of(node),
        metadata=SourceMetadata(
            material_id=meta(node, ChunkField.MATERIAL_ID.value),
            course_id=meta(node, ChunkField.COURSE_ID.value),
            filename=meta(node, ChunkField.FILENAME.value),
            page=f"{label}.{position(node)}" if label else "",  # "<label>.<position on page>"
            score=round(max(0.0, min(1.0, 1.0 - gap)), 4),  # cosine similarity
            vector_distance=round(gap, 4),
            chunk_type=meta(node, ChunkField.CHUNK_TYPE.value, "text"),
            page_label=label,
            page_number=page_number(node),
            title=meta(node, "title") or None,
            ocr=ocr,
            ocr_confidence=ocr_confidence,
        ),
    )


def to_sources(nodes: Iterable[NodeWithScore]) -> list[Source]:
    return [to_source(node) for node in nodes]
