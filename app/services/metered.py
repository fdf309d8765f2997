"""LLM calls with their cost: every call of a turn (condense, answer, personalize) goes through
:class:`MeteredLLM`, so each yields its text and then one priced ``UsageItem``, under the same
timeouts, whatever the endpoint reports about usage."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence

from llama_index.core.base.llms.types import ChatMessage

from app.core.config import Settings
from app.protocol.messages import UsageItem
from app.services.llm import CompatibleOpenAI, Delta, PromptCounter, Usage, complete, stream_chat
from app.services.usage import Purpose, usage_item


class MeteredLLM:
    def __init__(self, settings: Settings, counter: PromptCounter | None = None) -> None:
        self._settings = settings
        self._counter = counter  # for servers that stream no usage (llama.cpp)
        self._timeout = settings.openai_timeout_seconds

    def _priced(self, purpose: Purpose, model: CompatibleOpenAI, usage: Usage) -> UsageItem:
        return usage_item(
            self._settings,
            purpose,
            model.model,
            usage.input_tokens,
            usage.output_tokens,
            usage.counted,
        )

    async def stream(
        self,
        model: CompatibleOpenAI,
        messages: Sequence[ChatMessage],
        purpose: Purpose,
        stop: Callable[[], bool] | None = None,
    ) -> AsyncIterator[Delta | UsageItem]:
        """Text deltas as they arrive, then the call's priced usage (``stop``: see stream_chat)."""
        timeout = self._timeout
        async for event in stream_chat(model, messages, timeout, timeout, self._counter, stop):
            yield event if isinstance(event, Delta) else self._priced(purpose, model, event)

    async def complete(
        self, model: CompatibleOpenAI, messages: Sequence[ChatMessage], purpose: Purpose
    ) -> tuple[str, UsageItem]:
        """A whole hidden completion and its priced usage."""
        text, usage = await complete(model, messages, self._timeout, self._counter)
        return text, self._priced(purpose, model, usage)
