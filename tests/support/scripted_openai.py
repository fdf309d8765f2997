"""A scripted OpenAI-compatible HTTP server for exact, offline tests.

Why: tests never monkeypatch the LLM call. The app always talks HTTP to an OpenAI-compatible
server, so tests run the production code paths (``openai`` client, LlamaIndex's OpenAI LLM,
SSE parsing, usage accounting, retries, cancellation). For fast, exact assertions, this
server answers what the test scripted: these tokens, this usage, an error, a hang, a drop.
It runs uvicorn in a background thread with its own event loop, so sync and async tests
use it alike::

    with ScriptedOpenAI() as llm:
        llm.script(Reply(tokens=["Hel", "lo"], prompt_tokens=7))
        client = openai.OpenAI(base_url=llm.base_url, api_key="test", max_retries=0)
        ...
        assert llm.chat_requests[0]["model"] == "gpt-4o-mini"

Each scripted ``Reply`` answers exactly one chat request: give clients ``max_retries=0``
(a retry consumes the next reply, or the default one).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import itertools
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

JSON = dict[str, Any]
MODELS = ("gpt-4o-mini", "text-embedding-3-small")
# OpenAI-style (type, code) of error bodies, by HTTP status.
_ERRORS: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}


@dataclass
class Reply:
    """The scripted answer to one ``POST /v1/chat/completions`` request."""

    tokens: list[str] = field(default_factory=list)  # content deltas; non-stream: joined
    prompt_tokens: int | None = None  # reported usage; None: word count of all messages
    completion_tokens: int | None = None  # reported usage; None: len(tokens)
    delay_s: float = 0.0  # sleep before each token, to simulate generation speed
    status: int = 200  # non-200: an OpenAI-style JSON error body instead of an answer
    hang: bool = False  # send no token until the client goes away (or the server stops)
    fail_after: int | None = None  # drop the connection after this many tokens
    error_message: str = "scripted error"  # message of the error body when status != 200
    report_usage: bool = True  # False: ignore stream_options and send no usage (llama.cpp does)
    garbage: str | None = None  # streamed: this raw ``data:`` payload after the tokens, then end

    @classmethod
    def from_text(cls, text: str, **kwargs: Any) -> Reply:
        """Split ``text`` into word tokens (``"a b"`` -> ``["a", " b"]``), as models stream."""
        return cls(tokens=re.findall(r"\s*\S+", text), **kwargs)


@dataclass(frozen=True)
class RecordedRequest:
    """A request the server received: its path and parsed JSON body, for assertions."""

    path: str
    body: JSON


def _text(content: Any) -> str:
    """Text of a message ``content``: a string or a list of ``{"type": "text"}`` parts."""
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def echo_reply(body: JSON) -> Reply:
    """Built-in default: a short deterministic sentence quoting the last user message."""
    users = [m for m in body.get("messages", []) if m.get("role") == "user"]
    quote = " ".join(_text(users[-1].get("content")).split()[:8]) if users else ""
    return Reply.from_text(f"Scripted answer to: {quote}")


def embedding_vector(text: str, dimensions: int = 1536) -> npt.NDArray[np.float32]:
    """The deterministic unit vector the server returns for ``text``.

    Seeded from SHA-256 (not ``hash()``, which is salted per process), so the same text
    gets the same vector in every run; different texts get near-orthogonal vectors.
    """
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    vector = np.random.default_rng(seed).standard_normal(dimensions)
    return (vector / np.linalg.norm(vector)).astype(np.float32)


async def _client_gone(receive: Receive) -> None:
    """Return once uvicorn reports ``http.disconnect`` (the request body was already read)."""
    while (await receive())["type"] != "http.disconnect":
        pass


class ScriptedOpenAI:
    """Context manager running the scripted server on a free port of 127.0.0.1."""

    def __init__(self, *, embedding_dimensions: int = 1536) -> None:
        self.default: Reply | Callable[[JSON], Reply] = echo_reply  # when the script is empty
        self.embedding_dimensions = embedding_dimensions  # unless the request says otherwise
        self.app = Starlette(
            routes=[
                Route("/v1/models", self._models, methods=["GET"]),
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/embeddings", self._embeddings, methods=["POST"]),
            ]
        )
        self._lock = threading.Lock()  # the server thread writes what the test thread reads
        self._script: deque[Reply] = deque()
        self._requests: list[RecordedRequest] = []
        self._cancelled = 0
        self._ids = itertools.count(1)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None  # set on exit: hangs and delays end
        self._port = 0

    @property
    def base_url(self) -> str:
        """What to pass as ``base_url`` / ``api_base`` to OpenAI clients."""
        return f"http://127.0.0.1:{self._port}/v1"

    def script(self, *replies: Reply) -> None:
        """Queue replies; each chat request consumes the next one, in order."""
        with self._lock:
            self._script.extend(replies)

    @property
    def pending(self) -> int:
        """Scripted replies not consumed yet."""
        with self._lock:
            return len(self._script)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Chat and embedding requests received so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    @property
    def chat_requests(self) -> list[JSON]:
        """JSON bodies of the chat requests received so far."""
        return [r.body for r in self.requests if r.path == "/v1/chat/completions"]

    @property
    def cancelled(self) -> int:
        """Chat responses whose client went away before the response was finished."""
        with self._lock:
            return self._cancelled

    def reset(self) -> None:
        """Forget script, recordings and default, so one server can serve many tests."""
        with self._lock:
            self._script.clear()
            self._requests.clear()
            self._cancelled = 0
        self.default = echo_reply

    def __enter__(self) -> ScriptedOpenAI:
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=0, log_level="warning", lifespan="off",
            log_config=None,  # do not reconfigure the test process's logging
            ws="none",  # no websocket protocol needed (and none of its deprecation warnings)
        )  # fmt: skip
        self._server = server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="scripted-openai", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the scripted OpenAI server did not start")
            time.sleep(0.005)
        self._port = int(server.servers[0].sockets[0].getsockname()[1])
        httpx.get(f"{self.base_url}/models", timeout=5).raise_for_status()  # it answers
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._server is None or self._thread is None:
            return
        if self._loop is not None and self._stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                self._loop.call_soon_threadsafe(self._stopping.set)
        self._server.should_exit = True
        self._thread.join(timeout=10)
        if self._thread.is_alive():  # a response that ignores the stop
            self._server.force_exit = True
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def _run(self) -> None:  # the server thread: its own event loop, never the test's
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop, self._stopping = asyncio.get_running_loop(), asyncio.Event()
        assert self._server is not None
        await self._server.serve()

    async def _record(self, request: Request) -> JSON:
        body = await request.json()
        with self._lock:
            self._requests.append(RecordedRequest(request.url.path, body))
        return dict(body)

    async def _sleep(self, seconds: float | None) -> None:
        """Sleep (forever if None), cut short when the server stops so that exit never hangs."""
        assert self._stopping is not None
        if seconds is None or seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _models(self, request: Request) -> Response:
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "scripted"} for m in MODELS]
        return JSONResponse({"object": "list", "data": data})

    async def _embeddings(self, request: Request) -> Response:
        body = await self._record(request)
        inputs = body.get("input", [])
        if isinstance(inputs, str) or (inputs and isinstance(inputs[0], int)):
            inputs = [inputs]  # one text, or one token array
        texts = [x if isinstance(x, str) else json.dumps(x) for x in inputs]
        dimensions = int(body.get("dimensions") or self.embedding_dimensions)
        data = []
        for index, text in enumerate(texts):
            vector = embedding_vector(text, dimensions)
            if body.get("encoding_format") == "base64":  # the openai client's default
                encoded: Any = base64.b64encode(vector.astype("<f4").tobytes()).decode()
            else:
                encoded = vector.tolist()
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        words = sum(len(t.split()) for t in texts)
        usage = {"prompt_tokens": words, "total_tokens": words}
        answer = {"object": "list", "data": data, "model": body.get("model"), "usage": usage}
        return JSONResponse(answer)

    async def _chat(self, request: Request) -> Any:
        body = await self._record(request)
        with self._lock:
            scripted = self._script.popleft() if self._script else None
        default = self.default
        reply = scripted or (default if isinstance(default, Reply) else default(body))
        if reply.status != 200:
            kind, code = _ERRORS.get(reply.status, ("server_error", None))
            error = {"message": reply.error_message, "type": kind, "param": None, "code": code}
            return JSONResponse({"error": error}, status_code=reply.status)

        async def respond(scope: Scope, receive: Receive, send: Send) -> None:
            """Produce the answer while watching for the client going away."""
            producer = asyncio.ensure_future(self._produce(reply, body, send))
            watcher = asyncio.ensure_future(_client_gone(receive))
            try:
                await asyncio.wait({producer, watcher}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                watcher.cancel()
                if not producer.done():  # the client left mid-answer
                    producer.cancel()
                    with self._lock:
                        self._cancelled += 1
            with contextlib.suppress(asyncio.CancelledError):
                await producer

        return respond  # Starlette awaits any ASGI callable an endpoint returns

    async def _produce(self, reply: Reply, body: JSON, send: Send) -> None:
        """Send the answer; leave it incomplete to drop the connection (``fail_after``)."""
        words = sum(len(_text(m.get("content")).split()) for m in body.get("messages", []))
        prompt = words if reply.prompt_tokens is None else reply.prompt_tokens
        completion = reply.completion_tokens
        completion = len(reply.tokens) if completion is None else completion
        usage = {"prompt_tokens": prompt, "completion_tokens": completion}
        usage["total_tokens"] = prompt + completion
        base = {"id": f"chatcmpl-scripted-{next(self._ids)}", "created": int(time.time())}
        base["model"] = body.get("model")
        if body.get("stream"):
            await self._produce_sse(reply, body, base, usage, send)
            return
        await self._sleep(None if reply.hang else reply.delay_s * len(reply.tokens))
        message = {"role": "assistant", "content": "".join(reply.tokens), "refusal": None}
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}
        answer = {**base, "object": "chat.completion", "choices": [choice], "usage": usage}
        payload = json.dumps(answer).encode()
        await _start(send, b"application/json", b"%d" % len(payload))
        if reply.fail_after is not None:  # half the body, then uvicorn closes the connection
            await _body(send, payload[: len(payload) // 2], more=True)
            return
        await _body(send, payload)

    async def _produce_sse(
        self, reply: Reply, body: JSON, base: JSON, usage: JSON, send: Send
    ) -> None:
        """Stream the tokens framed as OpenAI frames its server-sent events."""
        # like llama.cpp's server, a reply can ignore stream_options and report no usage at all
        include_usage = reply.report_usage and bool(
            (body.get("stream_options") or {}).get("include_usage")
        )

        async def event(data: JSON | str) -> None:
            text = data if isinstance(data, str) else json.dumps(data)
            await _body(send, f"data: {text}\n\n".encode(), more=True)

        def chunk(delta: JSON, finish_reason: str | None = None) -> JSON:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            extra = {"usage": None} if include_usage else {}  # as OpenAI does
            return {**base, "object": "chat.completion.chunk", "choices": [choice], **extra}

        await _start(send, b"text/event-stream; charset=utf-8")
        await event(chunk({"role": "assistant", "content": ""}))
        if reply.hang:
            await self._sleep(None)
        for token in reply.tokens[: reply.fail_after]:
            await self._sleep(reply.delay_s)
            await event(chunk({"content": token}))
        if reply.fail_after is not None:
            return  # uvicorn closes the connection (logging "...without completing response")
        if reply.garbage is not None:  # e.g. malformed JSON; the stream then ends normally
            await event(reply.garbage)
            await _body(send, b"")
            return
        await event(chunk({}, "stop"))
        if include_usage:
            await event({**chunk({}), "choices": [], "usage": usage})
        await event("[DONE]")
        await _body(send, b"")


async def _start(send: Send, content_type: bytes, length: bytes = b"") -> None:
    headers = [(b"content-type", content_type), (b"cache-control", b"no-cache")]
    headers += [(b"content-length", length)] if length else []
    await send({"type": "http.response.start", "status": 200, "headers": headers})


async def _body(send: Send, data: bytes, *, more: bool = False) -> None:
    await send({"type": "http.response.body", "body": data, "more_body": more})


def running_scripted_openai(**kwargs: Any) -> Iterator[ScriptedOpenAI]:
    """Body of a pytest fixture: ``yield from running_scripted_openai()``."""
    with ScriptedOpenAI(**kwargs) as server:
        yield server
