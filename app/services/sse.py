"""OpenAI-style chat streaming read straight off the wire: httpx lines, ``json.loads``, done.

The openai SDK plus llama-index-llms-openai spend ~150 µs of CPU per streamed token (typed chunk
objects, rebuilt message blocks, retries machinery); reading the same server-sent events with
httpx and ``json.loads`` costs ~25 µs. With a few dozen answers streaming at once on two cores
that difference is the ceiling on concurrent chats, so the streaming transport is this module.

Only what a chat stream carries is understood: ``choices[0].delta.content``, the final ``usage``
object (``stream_options.include_usage``), ``[DONE]``, and an ``error`` object some servers send
inside the stream. Everything malformed raises :class:`LLMStreamError`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

DATA = "data:"
DONE = "[DONE]"


class LLMStreamError(Exception):
    """The LLM endpoint answered, but not with a usable chat stream."""


class LLMStatusError(LLMStreamError):
    """The LLM endpoint refused the request (HTTP status >= 400)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"LLM endpoint answered HTTP {status}")
        self.status = status


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One useful SSE event: a text delta, and/or the usage the server reported."""

    delta: str
    usage: dict[str, int] | None
    raw: dict[str, Any]


def _usage(raw: Any) -> dict[str, int] | None:
    if not isinstance(raw, dict):
        return None
    try:
        prompt = int(raw.get("prompt_tokens") or 0)
        completion = int(raw.get("completion_tokens") or 0)
        total = int(raw.get("total_tokens") or prompt + completion)
    except (TypeError, ValueError) as exc:
        raise LLMStreamError("malformed usage in the stream") from exc
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total}


def parse_event(data: str) -> StreamEvent | None:
    """One ``data:`` payload → an event, or None when it carries nothing we use."""
    try:
        event = json.loads(data)
    except ValueError as exc:
        raise LLMStreamError("malformed JSON in the stream") from exc
    if not isinstance(event, dict):
        raise LLMStreamError("a stream event is not a JSON object")
    if event.get("error"):
        raise LLMStreamError("the LLM endpoint reported an error inside the stream")
    text = ""
    choices = event.get("choices")
    if choices:
        try:
            delta = choices[0].get("delta") or {}
            text = delta.get("content") or ""
        except (AttributeError, IndexError, KeyError, TypeError) as exc:
            raise LLMStreamError("malformed choice in the stream") from exc
        if not isinstance(text, str):
            raise LLMStreamError("a delta's content is not text")
    usage = _usage(event.get("usage"))
    if not text and usage is None:
        return None
    return StreamEvent(text, usage, event)


async def open_stream(
    http: httpx.AsyncClient, url: str, body: dict[str, Any], headers: dict[str, str]
) -> httpx.Response:
    """POST the request and return the response once its headers arrived (status checked)."""
    request = http.build_request("POST", url, json=body, headers=headers)
    response = await http.send(request, stream=True)
    if response.status_code >= 400:
        await response.aclose()
        raise LLMStatusError(response.status_code)
    return response


async def read_events(response: httpx.Response) -> AsyncIterator[StreamEvent]:
    """The events of an open SSE response, until ``[DONE]``; the response is closed at the end."""
    try:
        async for line in response.aiter_lines():
            if not line.startswith(DATA):
                continue  # blank separators, comments (": ping"), event names
            data = line[len(DATA) :].strip()
            if data == DONE:
                return
            event = parse_event(data)
            if event is not None:
                yield event
    finally:
        await response.aclose()
