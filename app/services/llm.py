"""The one LLM code path: OpenAI's chat API through a LlamaIndex LLM, against any endpoint.

OpenAI itself, vLLM, Ollama or the project's own llama.cpp server all speak this API; only
``OPENAI_API_BASE`` and the model name differ. Model names llama-index does not know
(``gpt-4o-nano``, a local GGUF) would be refused by its context-window lookup, so the metadata comes
from our settings instead. Token usage is read from the stream (``stream_options.include_usage``).

The LLM itself is :class:`app.services.openai_llm.CompatibleOpenAI`, a LlamaIndex LLM that reads
the stream with httpx and ``json.loads`` (:mod:`app.services.sse`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import httpx
from llama_index.core.base.llms.types import ChatMessage

from app.core.config import Settings
from app.protocol.errors import ErrorCode, ProtocolError
from app.services.openai_llm import CALLBACK_DISPATCHER, CompatibleOpenAI, observed
from app.services.sse import LLMStreamError
from app.services.stall import StallGuard, next_within

log = logging.getLogger(__name__)
NO_KEY = "no-key-needed"
__all__ = ["CALLBACK_DISPATCHER", "CompatibleOpenAI", "observed"]


def build_llm(settings: Settings, model: str, http_client: httpx.AsyncClient) -> CompatibleOpenAI:
    """An LLM client for ``model``; the caller owns (and closes) ``http_client``."""
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else NO_KEY
    return CompatibleOpenAI(
        model=model,
        api_key=key,
        api_base=settings.llm_api_base or "https://api.openai.com/v1",
        temperature=settings.openai_temperature,
        max_tokens=settings.openai_max_tokens,
        timeout=settings.openai_timeout_seconds,
        context_window=settings.llm_context_window,
        additional_kwargs={"stream_options": {"include_usage": True}},
        http_client=http_client,
    )


@dataclass(frozen=True)
class Delta:
    text: str


@dataclass(frozen=True)
class Usage:
    input_tokens: int
    output_tokens: int
    counted: bool = False  # True when the server sent no usage and we counted ourselves


class PromptCounter(Protocol):
    async def count(self, messages: Sequence[ChatMessage]) -> int: ...


class LlamaCppPromptCounter:
    """Prompt tokens from llama.cpp's own tokenizer endpoint.

    llama-cpp-python's server streams no ``usage`` at all (it ignores ``stream_options``), so for
    the project's local server the prompt is counted with the model's tokenizer: the message
    contents plus the chat template's fixed cost per message (ChatML: 5, and 3 for the reply
    header), which matches the server's non-streamed ``usage`` exactly.
    """

    PER_MESSAGE = 5
    REPLY_HEADER = 3

    def __init__(self, http: httpx.AsyncClient, server_root: str, timeout: float) -> None:
        self._http = http
        self._url = server_root.rstrip("/") + "/extras/tokenize/count"
        self._timeout = timeout

    async def count(self, messages: Sequence[ChatMessage]) -> int:
        """The exact prompt size; raises :class:`CountUnavailableError` if the server cannot say."""
        total = self.REPLY_HEADER
        for message in messages:
            try:
                response = await self._http.post(
                    self._url, json={"input": message.content or ""}, timeout=self._timeout
                )
                response.raise_for_status()
                total += int(response.json()["count"]) + self.PER_MESSAGE
            except (httpx.HTTPError, KeyError, TypeError, ValueError) as exc:
                raise CountUnavailableError(type(exc).__name__) from exc
        return total


class CountUnavailableError(Exception):
    """The tokenizer endpoint did not give a count (down, or an answer of another shape)."""


async def prompt_tokens(counter: PromptCounter | None, messages: Sequence[ChatMessage]) -> int:
    """Prompt tokens for a server that reported none. Counting runs after the answer streamed, so
    it never fails the turn: without an exact count the estimate stands (logged)."""
    if counter is not None:
        try:
            return await counter.count(messages)
        except CountUnavailableError as exc:
            log.warning("prompt token count unavailable (%s); estimating", exc)
    return estimate_tokens(messages)


def estimate_tokens(messages: Sequence[ChatMessage]) -> int:
    """Last resort for servers that report nothing: ~4 characters per token."""
    return sum(len(m.content or "") for m in messages) // 4 + 4 * len(messages)


class LLMUnavailableError(ProtocolError):
    def __init__(self, detail: str) -> None:
        super().__init__(
            ErrorCode.SERVICE_UNAVAILABLE,
            "The language model is not reachable right now, so no answer can be generated.",
        )
        self.detail = detail


_FAILURES = (httpx.HTTPError, LLMStreamError, TimeoutError, ConnectionError)


async def stream_chat(
    llm: CompatibleOpenAI,
    messages: Sequence[ChatMessage],
    first_token_timeout: float,
    token_timeout: float,
    counter: PromptCounter | None = None,
    stop: Callable[[], bool] | None = None,
) -> AsyncIterator[Delta | Usage]:
    """Text deltas as they arrive, then one :class:`Usage`.

    Usage comes from the stream when the server reports it (OpenAI, vLLM); otherwise completion
    tokens are the content chunks received and prompt tokens come from ``counter`` (exact for the
    local llama.cpp server) or, failing that, an estimate. ``stop`` is asked after each delta: when
    it says so, the call ends there (the connection is closed, so the model stops writing) and its
    usage is counted the same way.
    """
    usage: Usage | None = None
    pieces = 0
    try:
        async with asyncio.timeout(first_token_timeout):
            stream = await llm.astream_chat(list(messages))
        iterator = stream.__aiter__()
        guard = StallGuard(first_token_timeout)
        try:
            while True:
                try:
                    response = await next_within(guard, iterator)
                except StopAsyncIteration:
                    break
                counts = response.additional_kwargs
                if "prompt_tokens" in counts:
                    usage = Usage(
                        int(counts["prompt_tokens"]), int(counts.get("completion_tokens", 0))
                    )
                if response.delta:
                    guard.limit_s = token_timeout
                    pieces += 1
                    yield Delta(response.delta)
                    if stop is not None and stop():
                        break
        finally:  # a cancelled or timed-out answer releases its HTTP connection now, not at GC
            guard.close()
            with contextlib.suppress(Exception):
                await stream.aclose()
        if usage is None:
            usage = Usage(await prompt_tokens(counter, messages), pieces, counted=True)
    except _FAILURES as exc:
        log.warning("LLM call to %s failed: %s", llm.api_base, type(exc).__name__, exc_info=True)
        raise LLMUnavailableError(type(exc).__name__) from exc
    log.debug("LLM %s usage: %d in, %d out%s", llm.model, usage.input_tokens, usage.output_tokens,
              " (counted)" if usage.counted else "")  # fmt: skip
    yield usage


async def complete(
    llm: CompatibleOpenAI,
    messages: Sequence[ChatMessage],
    timeout_s: float,
    counter: PromptCounter | None = None,
) -> tuple[str, Usage]:
    """A whole (hidden) completion, streamed internally so usage is reported the same way."""
    parts: list[str] = []
    usage = Usage(0, 0)
    async for event in stream_chat(llm, messages, timeout_s, timeout_s, counter):
        if isinstance(event, Delta):
            parts.append(event.text)
        else:
            usage = event
    return "".join(parts), usage
