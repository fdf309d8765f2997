"""An async client for `/ws/stream`: typed frames, keep-alive pings, reconnect with backoff.

``ask()`` yields the answer's frames as the server's own models — :class:`ChatStarted`, then
:class:`ChatChunk` frames, then :class:`ChatResponse` (or :class:`ErrorMessage`). Features the
server added later are used only where ``GET /ws/status`` lists their message types: ``cancel``
(otherwise :meth:`TutorClient.cancel` sends ``disconnect`` and reconnects) and ``resume`` (an
answer cut off by a dropped connection continues from its last chunk; otherwise
:class:`ConnectionLostError` is raised).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

import httpx
import websockets
from pydantic import ValidationError
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from tutor_client.protocol import (
    SERVER_MESSAGE,
    ChatChunk,
    ChatResponse,
    ChatStarted,
    ConnectionMessage,
    ErrorMessage,
    Pong,
    StatusResponse,
)

AnswerEvent = ChatStarted | ChatChunk | ChatResponse | ErrorMessage
TicketSource = Callable[[], Awaitable[str]]
_END = object()


class TutorError(Exception):
    """Base of the client's errors; ``code`` is the server's error code where there was one."""

    def __init__(self, message: str, code: str | None = None, suggestion: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.suggestion = suggestion


class ServerUnreachableError(TutorError):
    """Nothing answered at the URL (refused, DNS, timeout)."""


class ConnectionRefusedByServerError(TutorError):
    """The server answered but would not open a chat: bad token, unknown course, bad user id."""


class ConnectionLostError(TutorError):
    """The connection dropped mid-answer and the answer could not be resumed."""


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter between reconnect attempts."""

    initial: float = 0.5
    factor: float = 2.0
    max_delay: float = 15.0
    attempts: int = 5

    def delay(self, attempt: int) -> float:
        ceiling = min(self.max_delay, self.initial * self.factor ** (attempt - 1))
        return ceiling / 2 + random.random() * ceiling / 2


class TutorClient:
    def __init__(
        self,
        url: str,
        *,
        user_id: str | None = None,
        course_id: str | None = None,
        token: str | None = None,
        ticket: str | TicketSource | None = None,
        backoff: Backoff | None = None,
        open_timeout: float = 10.0,
        ping_interval: float = 20.0,
        request_timeout: float = 120.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.user_id = user_id
        self.course_id = course_id
        self.token = token
        self._ticket = ticket
        self.backoff = backoff or Backoff()
        self.open_timeout = open_timeout
        self.ping_interval = ping_interval
        self.request_timeout = request_timeout
        self.connection: ConnectionMessage | None = None
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._keepalive: asyncio.Task[None] | None = None
        self._answer: asyncio.Queue[Any] | None = None
        self._pongs: list[asyncio.Future[Pong]] = []
        self._types: set[str] | None = None
        self._closing = False

    # --- context manager ----------------------------------------------------------------------
    async def __aenter__(self) -> TutorClient:
        await self.connect()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # --- HTTP ---------------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        if self.token:
            return {"Authorization": f"Bearer {self.token}"}
        return {"X-User-Id": self.user_id} if self.user_id else {}

    async def _get(self, path: str) -> Any:
        try:
            async with httpx.AsyncClient(timeout=self.open_timeout) as http:
                response = await http.get(self.url + path, headers=self._headers())
        except httpx.HTTPError as exc:
            raise ServerUnreachableError(f"cannot reach the tutor at {self.url}: {exc}") from exc
        if response.status_code in (401, 403):
            raise ConnectionRefusedByServerError(_detail(response), str(response.status_code))
        if response.status_code >= 400:
            raise TutorError(f"{path}: HTTP {response.status_code}: {_detail(response)}")
        return response.json()

    async def status(self) -> StatusResponse:
        """``GET /ws/status``: live connections and today's numbers."""
        return StatusResponse.model_validate(await self._get("/ws/status"))

    async def supports(self, message_type: str) -> bool:
        """Whether the server accepts ``message_type`` (``/ws/status`` lists the protocol's and
        its own additions; asked once)."""
        if self._types is None:
            status = await self.status()
            self._types = {*status.message_types, *status.added_message_types}
        return message_type in self._types

    # --- the socket ---------------------------------------------------------------------------
    async def _socket_url(self) -> str:
        params: dict[str, str] = {}
        if self._ticket is not None:
            params["ticket"] = (
                self._ticket if isinstance(self._ticket, str) else await self._ticket()
            )
        if self.user_id:
            params["user_id"] = self.user_id
        if self.course_id:
            params["course_id"] = self.course_id
        base = self.url.replace("https://", "wss://").replace("http://", "ws://")
        return f"{base}/ws/stream?{urlencode(params)}"

    async def _open_once(self) -> ConnectionMessage:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else None
        url = await self._socket_url()
        try:
            ws = await websockets.connect(
                url, additional_headers=headers, open_timeout=self.open_timeout, max_size=2**22
            )
        except InvalidStatus as exc:
            code = exc.response.status_code
            if code in (401, 403):
                raise ConnectionRefusedByServerError(
                    f"the tutor at {self.url} refused the connection (HTTP {code}): "
                    "check the token",
                    "UNAUTHORIZED" if code == 401 else "FORBIDDEN",
                ) from exc
            raise ServerUnreachableError(f"the tutor at {self.url} answered HTTP {code}") from exc
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            raise ServerUnreachableError(
                f"cannot reach the tutor at {self.url}: {exc or type(exc).__name__}"
            ) from exc
        try:
            async with asyncio.timeout(self.open_timeout):
                first = SERVER_MESSAGE.validate_json(await ws.recv())
        except (ConnectionClosed, TimeoutError, ValidationError) as exc:
            await ws.close()
            raise ServerUnreachableError(f"no greeting from the tutor at {self.url}") from exc
        if isinstance(first, ErrorMessage):
            await ws.close()
            raise ConnectionRefusedByServerError(
                first.error, first.error_code.value, first.suggestion
            )
        if not isinstance(first, ConnectionMessage):
            await ws.close()
            raise TutorError(f"unexpected first frame {first.type!r}")
        self._ws = ws
        self.connection = first
        self._reader = asyncio.create_task(self._read(ws), name="tutor-client-reader")
        self._keepalive = asyncio.create_task(self._keep_alive(ws), name="tutor-client-ping")
        return first

    async def connect(self) -> ConnectionMessage:
        """Open the socket, retrying with backoff; a refusal is raised at once (retrying cannot
        help)."""
        if self._ws is not None and self.connection is not None:
            return self.connection
        self._closing = False
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._open_once()
            except ServerUnreachableError:
                if attempt >= self.backoff.attempts:
                    raise
            await asyncio.sleep(self.backoff.delay(attempt))

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                try:
                    frame = SERVER_MESSAGE.validate_json(raw)
                except ValidationError:
                    continue  # a newer server's frame this client does not know
                if isinstance(frame, Pong):
                    for future in self._pongs:
                        if not future.done():
                            future.set_result(frame)
                    self._pongs.clear()
                elif self._answer is not None:
                    self._answer.put_nowait(frame)
        except ConnectionClosed:
            pass
        finally:
            if self._ws is ws:
                self._ws, self.connection = None, None
            if self._answer is not None and not self._closing:
                self._answer.put_nowait(ConnectionLostError("the connection dropped"))

    async def _keep_alive(self, ws: ClientConnection) -> None:
        """An application ``ping`` now and then, so the server's idle timeout never closes us."""
        with contextlib.suppress(ConnectionClosed, asyncio.CancelledError):
            while True:
                await asyncio.sleep(self.ping_interval)
                await ws.send(json.dumps({"type": "ping"}))

    async def _send(self, frame: dict[str, Any]) -> None:
        if self._ws is None:
            raise ConnectionLostError("not connected")
        await self._ws.send(json.dumps(frame))

    async def ping(self, wait: float = 10.0) -> Pong:
        """Send a ``ping``; return the server's ``pong`` (``TimeoutError`` after ``wait`` s)."""
        await self.connect()
        future: asyncio.Future[Pong] = asyncio.get_running_loop().create_future()
        self._pongs.append(future)
        await self._send({"type": "ping"})
        async with asyncio.timeout(wait):
            return await future

    async def _drop(self) -> None:
        ws, self._ws, self.connection = self._ws, None, None
        for task in (self._keepalive, self._reader):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if ws is not None:
            with contextlib.suppress(ConnectionClosed, OSError):
                await ws.close()

    async def close(self) -> None:
        """Say goodbye (``disconnect``) and close; no reconnect."""
        self._closing = True
        if self._ws is not None:
            with contextlib.suppress(ConnectionClosed, OSError):
                await self._ws.send(json.dumps({"type": "disconnect"}))
        await self._drop()

    # --- asking -------------------------------------------------------------------------------
    async def ask(
        self, query: str, *, personalize: bool = False, chatroom_id: str | None = None
    ) -> AsyncIterator[AnswerEvent]:
        """Ask; yield the answer's frames up to its ``chat_response`` or ``error``."""
        if self._answer is not None:
            raise TutorError("an answer is still streaming on this client", "CHAT_IN_PROGRESS")
        await self.connect()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        self._answer = queue
        turn_id: str | None = None
        last_chunk = 0
        try:
            await self._send(
                {
                    "type": "chat_request",
                    "query": query,
                    "use_personalization": personalize,
                    "chatroom_id": chatroom_id,
                }
            )
            while True:
                async with asyncio.timeout(self.request_timeout):
                    item = await queue.get()
                if item is _END:
                    return
                if isinstance(item, ConnectionLostError):
                    await self._resume_or_raise(item, turn_id, last_chunk)
                    continue
                if isinstance(item, ChatStarted):
                    turn_id = getattr(item.metadata, "turn_id", None) or turn_id
                if isinstance(item, ChatChunk):
                    if item.chunk_index <= last_chunk:
                        continue  # replayed after a resume
                    last_chunk = item.chunk_index
                yield item
                if isinstance(item, ChatResponse | ErrorMessage):
                    return
        finally:
            self._answer = None

    async def _resume_or_raise(
        self, lost: ConnectionLostError, turn_id: str | None, last_chunk: int
    ) -> None:
        await self._drop()
        if turn_id is None or not await self.supports("resume"):
            raise lost
        await self.connect()
        await self._send({"type": "resume", "turn_id": turn_id, "last_chunk_index": last_chunk})

    async def cancel(self) -> None:
        """Stop the answer in progress. With the server's ``cancel`` the answer still ends with
        its ``chat_response``; without it the iteration simply ends and the socket is renewed."""
        queue = self._answer
        if queue is None:
            return
        if await self.supports("cancel"):
            await self._send({"type": "cancel"})
            return
        self._closing = True
        with contextlib.suppress(ConnectionClosed, OSError, ConnectionLostError):
            await self._send({"type": "disconnect"})
        await self._drop()
        queue.put_nowait(_END)
        self._closing = False


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    detail = body.get("detail") if isinstance(body, dict) else None
    return detail if isinstance(detail, str) else json.dumps(body)[:200]
