"""A curated match as a turn's answer: the lecturer's text, and the pages they referenced as
sources — what the turn path streams with ``response_source: "curated"``.

Sources keep the protocol's shape. Their ``score`` / ``vector_distance`` describe the match of
the student's question to the curated question (the pages were chosen by the lecturer, not
ranked), and ``chunk_type`` is ``curated_reference``.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.protocol.messages import Source, SourceMetadata
from app.teaching.matcher import CuratedMatch
from app.teaching.references import Reference

CHUNK_TYPE = "curated_reference"


@dataclass(frozen=True)
class CuratedReply:
    text: str
    sources: list[Source]
    answer_id: str
    distance: float


def reference_source(reference: Reference, course_id: str, distance: float) -> Source:
    label = reference.page_label or (str(reference.page) if reference.page else "")
    return Source(
        content=reference.excerpt,
        metadata=SourceMetadata(
            material_id=reference.material_id,
            course_id=course_id,
            filename=reference.filename,
            page=f"{label}.{reference.position}" if label else "",
            score=round(1.0 - distance, 4),
            vector_distance=round(distance, 4),
            chunk_type=CHUNK_TYPE,
            page_label=label,
            page_number=reference.page or 0,
            title=reference.title or None,
        ),
    )


def curated_reply(match: CuratedMatch) -> CuratedReply:
    """The text to stream and the sources to send for a curated match."""
    record = match.record
    references = [Reference.model_validate(r) for r in record.references]
    return CuratedReply(
        text=record.answer,
        sources=[reference_source(r, record.course_id, match.distance) for r in references],
        answer_id=record.id,
        distance=match.distance,
    )
