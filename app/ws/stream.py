"""Engine events → ``chat_chunk`` frames → the final ``chat_response``: all stream framing is here.

Tokens arrive a few characters at a time; one frame per token would cost the client a render per
token and the server a syscall per token. Text is released in phrases that end at a word boundary:
the first word as soon as it is complete (the student sees the answer start at once), then whenever
the flush interval has passed and enough text has gathered. A whole answer that arrives at once (a
cached or fixed one) is cut the same way, into phrases of at most ``8 × min_chars``, so it streams
like a fresh one. This is the only place text is cut into frames.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from app.core.config import Settings
from app.protocol.messages import ChatChunk, ChatResponse, ResponseMetadata, ResponseSource
from app.services.turn import TextDelta, TurnRequest, TurnResult
from app.services.usage import token_usage
from app.ws.sources import to_sources

Send = Callable[[ChatChunk], Awaitable[None]]

SourceType = Literal["knowledge_base", "semantic_cache", "none", "curated_answer"]
ResponseType = Literal["rag_response", "cached_response", "not_covered", "curated_response"]
SOURCE_TYPES: dict[ResponseSource, SourceType] = {
    "rag": "knowledge_base",
    "cache": "semantic_cache",
    "not_covered": "none",
    "curated": "curated_answer",
}
RESPONSE_TYPES: dict[ResponseSource, ResponseType] = {
    "rag": "rag_response",
    "cache": "cached_response",
    "not_covered": "not_covered",
    "curated": "curated_response",
}


class PhraseBuffer:
    """Collects deltas and decides when a phrase is ready to go out."""

    def __init__(
        self, interval_s: float, min_chars: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._interval = interval_s
        self._min_chars = min_chars
        self._max_chars = 8 * min_chars
        self._clock = clock
        self._text = ""
        self._last = 0.0
        self._released_any = False

    def push(self, text: str) -> str | None:
        """Add text; return a phrase if one is ready (call :meth:`take` for more)."""
        self._text += text
        return self.take()

    def take(self) -> str | None:
        """The next ready phrase of what is buffered, if any."""
        cut = _boundary(self._text, len(self._text))
        if cut <= 0:
            return None
        now = self._clock()
        first = not self._released_any and bool(self._text[:cut].strip())
        due = now - self._last >= self._interval and cut >= self._min_chars
        if not (first or due or cut >= self._max_chars):
            return None
        if cut >= self._max_chars:  # a long run of text: phrase-sized pieces, not one block
            early = _boundary(self._text, self._max_chars)
            cut = early if early > 0 else cut
        phrase, self._text = self._text[: cut + 1], self._text[cut + 1 :]
        self._last = now
        self._released_any = True
        return phrase

    def flush(self) -> str:
        rest, self._text = self._text, ""
        return rest


def _boundary(text: str, end: int) -> int:
    """The last word boundary (space or newline) before ``end``; -1 if none."""
    return max(text.rfind(" ", 0, end), text.rfind("\n", 0, end))


@dataclass
class StreamState:
    """What has reached the client so far (kept when a turn is cancelled midway)."""

    chunks: int = 0
    sent: list[str] = field(default_factory=list)
    result: TurnResult | None = None
    first_chunk_at: float | None = None  # time.perf_counter() when the first chunk went out

    @property
    def text(self) -> str:
        return "".join(self.sent)


async def stream_events(
    events: AsyncIterator[TextDelta | TurnResult],
    send: Send,
    buffer: PhraseBuffer,
    state: StreamState,
) -> TurnResult:
    async def emit(phrase: str) -> None:
        if not phrase:
            return
        state.chunks += 1
        state.sent.append(phrase)
        await send(ChatChunk(chunk=phrase, chunk_index=state.chunks))
        if state.first_chunk_at is None:
            state.first_chunk_at = time.perf_counter()

    async for event in events:
        if isinstance(event, TextDelta):
            phrase = buffer.push(event.text)
            while phrase:
                await emit(phrase)
                phrase = buffer.take()
        else:
            state.result = event
    await emit(buffer.flush())
    if state.result is None:
        raise RuntimeError("the chat service ended without a result")
    return state.result


def build_response(
    settings: Settings,
    req: TurnRequest,
    result: TurnResult,
    chunks_count: int,
    latency_ms: float,
) -> ChatResponse:
    usage = token_usage(settings, result.usage, result.priced_model)
    source = result.response_source
    return ChatResponse(
        response=result.response,
        sources=to_sources(result.sources),
        cached=result.cached,
        token_usage=usage,
        latency_ms=round(latency_ms, 1),
        metadata=ResponseMetadata(
            source=source,
            source_type=SOURCE_TYPES[source],
            response_type=RESPONSE_TYPES[source],
            model_used=result.model_used,
            personalized=result.personalized,
            course_id=req.course_id,
            cost_usd=usage.model_pricing.total_cost,
            rag_threshold_used=result.threshold,
            documents_retrieved=result.documents_retrieved,
            documents_used=result.documents_used,
            language=result.language,
            chatroom_id=req.chatroom_id,
            turn_id=req.turn_id,
            cache_distance=result.cache_distance,
            condensed_query=result.condensed_query,
            timings_ms=result.timings_ms or None,
            not_covered_reason=result.not_covered_reason,
            revised=result.revised,
            grounding_removed=list(result.removed) or None,
        ),
        response_source=source,
        chunks_count=chunks_count,
    )


def build_cancelled(
    settings: Settings, req: TurnRequest, state: StreamState, latency_ms: float
) -> ChatResponse:
    """The final frame of an answer the client stopped with ``cancel``: the text sent so far.

    Nothing is known yet of its sources or usage (the LLM call was cut off), so they are empty.
    """
    return ChatResponse(
        response=state.text,
        sources=[],
        cached=False,
        token_usage=token_usage(settings, [], None),
        latency_ms=round(latency_ms, 1),
        metadata=ResponseMetadata(
            source="rag",
            source_type=SOURCE_TYPES["rag"],
            response_type=RESPONSE_TYPES["rag"],
            model_used=None,
            personalized=False,
            course_id=req.course_id,
            cost_usd=0.0,
            rag_threshold_used=settings.distance_threshold,
            documents_retrieved=0,
            documents_used=0,
            chatroom_id=req.chatroom_id,
            turn_id=req.turn_id,
            cancelled=True,
        ),
        response_source="rag",
        chunks_count=state.chunks,
    )
