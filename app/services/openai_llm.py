"""A LlamaIndex LLM for OpenAI's chat API (and every server that speaks it), on httpx alone.

It is a plain ``llama_index.core.llms.LLM``: ``astream_chat``, ``achat``, ``acomplete`` and
``astream_complete`` behave as LlamaIndex defines them, with its callbacks and instrumentation
events. It does not build on llama-index-llms-openai, because that imports the openai SDK (~800
modules, ~25 MiB of memory in every worker) and parses each streamed token into typed objects
(several times the CPU of reading the event itself, see docs/benchmarks.md). The wire format is
read by :mod:`app.services.sse`.

The server is async throughout and owns one ``httpx.AsyncClient``; the synchronous methods are
therefore not offered (they raise ``NotImplementedError``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
from llama_index.core.base.llms.generic_utils import (
    achat_to_completion_decorator,
    astream_chat_to_completion_decorator,
)
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.llms import LLM
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index_instrumentation import get_dispatcher
from llama_index_instrumentation.dispatcher import Dispatcher
from llama_index_instrumentation.event_handlers import NullEventHandler
from pydantic import Field, PrivateAttr

from app.services.sse import open_stream, read_events

# The dispatcher LlamaIndex's LLM callback layer sends its chat events through.
CALLBACK_DISPATCHER = get_dispatcher("llama_index.core.llms.callbacks")
SYNC_UNSUPPORTED = "CompatibleOpenAI is async only: use achat / astream_chat / acomplete."


def observed(llm: LLM) -> bool:
    """True when a LlamaIndex event handler or a callback handler would see this LLM's events."""
    if llm.callback_manager is not None and llm.callback_manager.handlers:
        return True
    node: Dispatcher | None = CALLBACK_DISPATCHER
    while node is not None:
        if any(not isinstance(h, NullEventHandler) for h in node.event_handlers):
            return True
        node = node.parent if node.propagate else None
    return False


def message_dicts(messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
    return [{"role": m.role.value, "content": m.content or ""} for m in messages]


class CompatibleOpenAI(LLM):
    """OpenAI chat completions for any model name served by an OpenAI-compatible endpoint."""

    model: str = Field(description="The model name sent to the endpoint.")
    api_base: str = Field(description="Base URL, e.g. https://api.openai.com/v1.")
    api_key: str = Field(default="", exclude=True, repr=False)
    temperature: float = 0.7
    max_tokens: int | None = None
    timeout: float = 120.0
    context_window: int = Field(default=8192, gt=0)
    additional_kwargs: dict[str, Any] = Field(default_factory=dict)
    default_headers: dict[str, str] | None = None
    _http: httpx.AsyncClient = PrivateAttr()

    def __init__(self, *, http_client: httpx.AsyncClient, **data: Any) -> None:
        super().__init__(**data)
        self._http = http_client

    @classmethod
    def class_name(cls) -> str:
        return "compatible_openai_llm"

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(
            context_window=self.context_window,
            num_output=self.max_tokens or -1,
            is_chat_model=True,
            is_function_calling_model=False,
            model_name=self.model,
            system_role=MessageRole.SYSTEM,
        )

    def _body(self, messages: Sequence[ChatMessage], kwargs: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "temperature": self.temperature}
        if self.max_tokens is not None:
            body["max_tokens"] = self.max_tokens
        body.update(self.additional_kwargs)
        body.update(kwargs)
        body["messages"] = message_dicts(messages)
        body["stream"] = True
        return body

    def _headers(self) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.api_key}", "Accept": "text/event-stream"}
        headers.update(self.default_headers or {})
        return headers

    async def _astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        """The request goes out and its status is checked before this returns; then each text
        delta (and the final usage) becomes one ``ChatResponse``."""
        url = f"{self.api_base.rstrip('/')}/chat/completions"
        response = await open_stream(self._http, url, self._body(messages, kwargs), self._headers())

        async def gen() -> ChatResponseAsyncGen:
            content = ""
            async for event in read_events(response):
                content += event.delta
                yield ChatResponse(
                    message=ChatMessage(role=MessageRole.ASSISTANT, content=content),
                    raw=event.raw,
                    delta=event.delta,
                    additional_kwargs=event.usage or {},
                )

        return gen()

    @llm_chat_callback()
    async def _instrumented_astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        return await self._astream_chat(messages, **kwargs)

    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        """LlamaIndex's callback layer builds an instrumentation event per token (~10 µs each,
        about as much as reading the token); when no event handler or callback handler listens,
        nobody would receive them, so they are skipped. With a handler registered (tracing, a
        callback handler), every event is sent as LlamaIndex defines it."""
        if observed(self):
            full: ChatResponseAsyncGen = await self._instrumented_astream_chat(messages, **kwargs)
            return full
        return await self._astream_chat(messages, **kwargs)

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        last: ChatResponse | None = None
        async for last in await self._astream_chat(messages, **kwargs):  # noqa: B007
            pass
        text = last.message.content if last is not None else ""
        usage = last.additional_kwargs if last is not None else {}
        return ChatResponse(
            message=ChatMessage(role=MessageRole.ASSISTANT, content=text),
            additional_kwargs=usage,
        )

    @llm_completion_callback()
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        complete = achat_to_completion_decorator(self.achat)
        response: CompletionResponse = await complete(prompt, **kwargs)
        return response

    @llm_completion_callback()
    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        stream = astream_chat_to_completion_decorator(self.astream_chat)
        response: CompletionResponseAsyncGen = await stream(prompt, **kwargs)
        return response

    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        raise NotImplementedError(SYNC_UNSUPPORTED)

    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        raise NotImplementedError(SYNC_UNSUPPORTED)

    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        raise NotImplementedError(SYNC_UNSUPPORTED)

    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        raise NotImplementedError(SYNC_UNSUPPORTED)
