"""What one student turn takes in and gives out: the request, the text deltas, the result.

The result is built once, at the end of the turn, from the values the stages returned; it is
immutable. Its sources stay LlamaIndex ``NodeWithScore``\\ s until the edge maps them to the wire
(:func:`app.ws.sources.to_source`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

from llama_index.core.schema import NodeWithScore

from app.protocol.messages import NotCoveredReason, ResponseSource, UsageItem


@dataclass(frozen=True)
class TurnRequest:
    turn_id: str
    user_id: str
    course_ids: frozenset[str] | None  # the connection's courses; None: every course
    chatroom_id: str | None
    query: str
    use_personalization: bool
    # the page the student has open next to the chat (checked against the course per turn)
    material_id: str | None = None
    page: int | None = None

    @property
    def course_id(self) -> str | None:
        """The course the turn is recorded under: its one course, else ``None`` (several or
        every course). Never a scope: retrieval, cache and curated answers read ``course_ids``."""
        if self.course_ids is None or len(self.course_ids) != 1:
            return None
        return next(iter(self.course_ids))


@dataclass(frozen=True)
class TextDelta:
    """Answer text for the student, in order. ``offset`` is how many characters of this turn's
    answer came before it, so a dropped stream can be resumed from the last text received."""

    turn_id: str
    offset: int
    text: str


@dataclass(frozen=True)
class TurnResult:
    response: str
    sources: tuple[NodeWithScore, ...]
    response_source: ResponseSource
    language: str
    threshold: float
    cached: bool = False
    personalized: bool = False
    model_used: str | None = None
    priced_model: str | None = None
    usage: tuple[UsageItem, ...] = ()
    documents_retrieved: int = 0
    documents_used: int = 0
    cache_distance: float | None = None
    condensed_query: str | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    # the semantic-cache entry the answer came from or went into (a personalized rewrite of it
    # too: a downvote is about the content), so a downvote can hold that entry for review
    cache_key: str | None = None
    not_covered_reason: NotCoveredReason | None = None
    revised: bool = False  # the response differs from the streamed text (grounding check)
    removed: tuple[str, ...] = ()  # sentences the grounding check took out of the streamed text


class DeltaCounter:
    """Numbers a turn's text deltas by character offset."""

    def __init__(self, turn_id: str) -> None:
        self._turn_id = turn_id
        self._offset = 0

    def __call__(self, text: str) -> TextDelta:
        delta = TextDelta(self._turn_id, self._offset, text)
        self._offset += len(text)
        return delta


class Answerer(Protocol):
    """What answers a turn: :class:`~app.services.chat.ChatService`, or a wrapper of it."""

    def answer(self, req: TurnRequest) -> AsyncIterator[TextDelta | TurnResult]: ...
