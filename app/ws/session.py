"""One WebSocket connection: reading and answering run side by side.

The read loop never waits for an answer to finish, so a ``ping`` mid-answer gets its ``pong`` and
``disconnect`` (or a clean close) cancels the LLM call at once, while ``cancel`` stops the answer
with a final ``chat_response``. At most one answer streams per connection; a second
``chat_request`` meanwhile gets ``CHAT_IN_PROGRESS`` (the client resends after ``chat_response``).
A socket that drops without a close frame leaves its answer running, detached, into the turn's log
for up to ``RESUME_WINDOW_SECONDS``, so a ``resume`` on any worker continues it. Whatever happens
to a turn — done, failed, cancelled — it is recorded, from a background task that outlives the
connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from pydantic import BaseModel
from redisvl.exceptions import RedisSearchError
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from app.auth.principal import Principal
from app.db.records import TurnRecord
from app.observability.logs import CONNECTION_ID, TURN_ID
from app.observability.turns import observe_turn
from app.protocol.errors import ErrorCode, ProtocolError
from app.protocol.messages import (
    Cancel,
    ChatRequest,
    ChatStarted,
    ChatStartedMetadata,
    ConnectionMessage,
    Disconnect,
    ErrorMessage,
    Feedback,
    Pong,
    Resume,
)
from app.protocol.parse import parse_client_message
from app.services.turn import TurnRequest, TurnResult
from app.state import Services
from app.teaching.feedback import feedback_frame
from app.ws.resume import follow_turn
from app.ws.sink import ClientGoneError, TurnSink
from app.ws.sources import to_sources
from app.ws.stream import (
    PhraseBuffer,
    StreamState,
    build_cancelled,
    build_response,
    stream_events,
)

log = logging.getLogger(__name__)
# RedisVL reports a failed search (e.g. an index that is gone) as its own RedisSearchError.
BACKING_ERRORS = (aioredis.RedisError, RedisSearchError, OSError, TimeoutError)
WS_1000_NORMAL = 1000
WS_1008_POLICY_VIOLATION = 1008
WS_1011_INTERNAL_ERROR = 1011
# closed without a close frame from the client: dropped (1006), or this server is stopping (1012)
WS_DROPPED = (1006, 1012)
WS_1005_NO_STATUS = 1005
RECORD_WAIT_S = 5.0  # feedback right after chat_response waits for the turn's record


class ChatSession:
    def __init__(
        self,
        ws: WebSocket,
        services: Services,
        principal: Principal,
        courses: frozenset[str] | None,
        client_ip: str | None = None,
    ) -> None:
        self._ws = ws
        self._services = services
        self._settings = services.settings
        self._principal = principal
        self._user_id = principal.user_id
        self._courses = courses  # the connection's course scope; None: every course
        self._client_ip = client_ip
        self._id = uuid.uuid4().hex[:12]
        self._send_lock = asyncio.Lock()
        self._turn: asyncio.Task[None] | None = None  # an answer, or a resumed one followed
        self._sink: TurnSink | None = None  # the running answer's (None while following)
        self._streaming: asyncio.Task[object] | None = None  # its text, stopped by `cancel`
        self._dropped = False  # the socket went away without a close frame
        self._last_activity = time.monotonic()

    # --- sending ---------------------------------------------------------------------------------
    async def send(self, message: BaseModel) -> None:
        """Send one frame; a socket that went away raises :class:`ClientGoneError`."""
        await self._send_text(message.model_dump_json())

    async def _send_text(self, text: str) -> None:
        if self._ws.application_state is not WebSocketState.CONNECTED:
            raise ClientGoneError
        async with self._send_lock:
            try:
                await self._ws.send_text(text)
            except (WebSocketDisconnect, RuntimeError, OSError) as exc:
                raise ClientGoneError from exc

    async def send_error(self, code: ErrorCode, message: str | None = None) -> None:
        if self._services.metrics is not None:
            self._services.metrics.errors.labels(code=code.value).inc()
        with contextlib.suppress(ClientGoneError):
            await self.send(ErrorMessage.of(code, message))

    async def close(self, code: int = WS_1000_NORMAL, reason: str = "") -> None:
        if self._ws.application_state is WebSocketState.CONNECTED:
            with contextlib.suppress(RuntimeError, OSError):
                await self._ws.close(code=code, reason=reason)

    @property
    def connection_id(self) -> str:
        return self._id

    # --- lifecycle -------------------------------------------------------------------------------
    async def run(self, connection: ConnectionMessage) -> None:
        connection.connection_id = self._id
        CONNECTION_ID.set(self._id)
        metrics = self._services.metrics
        if metrics is not None:
            metrics.ws_connections.inc()
        log.debug("ws %s connected user=%s courses=%s", self._id, self._user_id, self._courses)
        with contextlib.suppress(*BACKING_ERRORS):  # presence is best effort, chat is not
            await self._services.presence.connected(self._id, self._user_id, self._courses)
        try:
            await self.send(connection)
            await self._read_loop()
        except WebSocketDisconnect as exc:
            self._dropped = exc.code in WS_DROPPED
        except ClientGoneError:
            self._dropped = True
        finally:
            if self._dropped and self._sink is not None and self._sink.resumable and self._busy():
                self._detach_turn()
            else:
                await self._cancel_turn()
            if metrics is not None:
                metrics.ws_connections.dec()
            with contextlib.suppress(*BACKING_ERRORS):
                await self._services.presence.disconnected(self._id, self._user_id, self._courses)
            log.debug("ws %s closed", self._id)

    async def _cancel_turn(self) -> None:
        if self._turn is not None and not self._turn.done():
            self._turn.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._turn

    def _detach_turn(self) -> None:
        """Let the answer run on into its log, for a resume elsewhere, for at most the window."""
        assert self._turn is not None and self._sink is not None
        self._sink.detach()
        turn, window = self._turn, self._settings.resume_window_seconds
        self._turn = None

        async def run_detached() -> None:
            done, _ = await asyncio.wait({turn}, timeout=window)
            if not done:
                turn.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await turn

        self._services.background.spawn(run_detached(), f"detached-{turn.get_name()}")

    def _busy(self) -> bool:
        return self._turn is not None and not self._turn.done()

    async def _receive(self) -> MutableMapping[str, Any] | None:
        """The next frame, or None when the connection idled out."""
        idle = self._settings.ws_idle_timeout_seconds
        while True:
            remaining = self._last_activity + idle - time.monotonic()
            try:
                async with asyncio.timeout(max(remaining, 0.01)):
                    message = await self._ws.receive()
            except TimeoutError:
                if self._busy():
                    self._last_activity = time.monotonic()  # streaming counts as activity
                    continue
                return None
            self._last_activity = time.monotonic()
            return message

    async def _read_loop(self) -> None:
        limit = self._settings.ws_max_message_bytes
        while True:
            message = await self._receive()
            if message is None:
                await self.send_error(ErrorCode.CONNECTION_TIMEOUT)
                await self.close(WS_1000_NORMAL, "idle timeout")
                return
            if message["type"] == "websocket.disconnect":
                self._dropped = dropped_without_close(message)
                return
            text = message.get("text")
            if not isinstance(text, str):
                await self.send_error(ErrorCode.BINARY_NOT_SUPPORTED)
                continue
            if len(text.encode()) > limit:
                await self.send_error(
                    ErrorCode.MESSAGE_TOO_LARGE, f"The message is larger than {limit} bytes."
                )
                continue
            try:
                request = parse_client_message(text)
            except ProtocolError as exc:
                log.debug("ws %s <- invalid frame: %s", self._id, exc.code.value)
                await self.send_error(exc.code, exc.message)
                continue
            log.debug("ws %s <- %s", self._id, request.type)
            if isinstance(request, Disconnect):
                await self._cancel_turn()
                await self.close(WS_1000_NORMAL, "client disconnect")
                return
            if isinstance(request, ChatRequest):
                allowed = await self._still_allowed()
                if allowed is False:
                    return
                if allowed:
                    await self._start_turn(request)
            elif isinstance(request, Cancel):
                # nothing streaming (or it just finished): a cancel crossing its chat_response
                # on the wire is ignored, no frame
                if self._streaming is not None and not self._streaming.done():
                    self._streaming.cancel()
            elif isinstance(request, Resume):
                await self._resume(request)
            elif isinstance(request, Feedback):
                await self._feedback(request)
            else:
                await self.send(Pong())

    async def _feedback(self, request: Feedback) -> None:
        services = self._services
        await services.background.wait_for(f"record-{request.turn_id}", RECORD_WAIT_S)
        teaching = services.teaching.feedback if services.teaching else None
        await self.send(await feedback_frame(teaching, self._principal, request))

    # --- turns -----------------------------------------------------------------------------------
    async def _still_allowed(self) -> bool | None:
        """Expiry and revocation, again for every question; a refusal closes the socket (1008).

        ``None``: cannot tell right now (Redis down), so this question is refused, not answered.
        """
        try:
            await self._services.auth.recheck(self._principal, self._courses)
        except ProtocolError as exc:
            await self.send_error(exc.code, exc.message)
            await self.close(WS_1008_POLICY_VIOLATION, exc.code.value)
            return False
        except BACKING_ERRORS:
            log.warning("revocation check unavailable", exc_info=True)
            await self.send_error(ErrorCode.SERVICE_UNAVAILABLE)
            return None
        return True

    async def _start_turn(self, request: ChatRequest) -> None:
        if self._busy():
            await self.send_error(ErrorCode.CHAT_IN_PROGRESS)
            return
        if self._services.lifecycle.draining:  # this replica is stopping: ask another one
            await self.send_error(ErrorCode.SERVICE_UNAVAILABLE)
            return
        limiter = self._services.limiter
        try:
            await limiter.touch(self._id, self._user_id, self._client_ip)
            refusal = await limiter.question(self._user_id, self._client_ip)
        except (aioredis.RedisError, OSError, TimeoutError):
            log.warning("rate limiter unavailable", exc_info=True)
            await self.send_error(ErrorCode.SERVICE_UNAVAILABLE)
            return
        if refusal is not None:
            await self.send_error(ErrorCode.RATE_LIMIT_EXCEEDED, refusal.text())
            return
        turn = TurnRequest(
            turn_id=uuid.uuid4().hex,
            user_id=self._user_id,
            course_ids=self._courses,
            chatroom_id=request.chatroom_id,
            query=request.query,
            use_personalization=request.use_personalization,
            material_id=request.material_id,
            page=request.page,
        )
        turn_log = self._services.turn_log
        writer = turn_log.writer(turn.turn_id, turn.user_id) if turn_log is not None else None
        self._sink = TurnSink(self._send_text, writer)
        self._turn = asyncio.create_task(
            self._run_turn(turn, self._sink), name=f"turn-{turn.turn_id}"
        )

    async def _resume(self, request: Resume) -> None:
        if self._busy():
            await self.send_error(ErrorCode.CHAT_IN_PROGRESS)
            return
        turn_log = self._services.turn_log
        try:
            owner = await turn_log.owner(request.turn_id) if turn_log is not None else None
        except BACKING_ERRORS:
            await self.send_error(ErrorCode.SERVICE_UNAVAILABLE)
            return
        metrics = self._services.metrics
        # someone else's turn and an unknown or expired one get the same answer
        if turn_log is None or owner != self._user_id:
            if metrics is not None:
                metrics.resumes.labels(result="refused").inc()
            await self.send_error(ErrorCode.TURN_NOT_FOUND)
            return
        if metrics is not None:
            metrics.resumes.labels(result="followed").inc()
        self._sink = None
        self._turn = asyncio.create_task(
            follow_turn(turn_log, request, self._send_text, self.send_error),
            name=f"resume-{request.turn_id}",
        )

    async def _run_turn(self, turn: TurnRequest, sink: TurnSink) -> None:
        started = time.perf_counter()
        created = datetime.now(UTC)
        state = StreamState()
        status, error_code = "failed", None
        services = self._services
        cache_on = self._settings.cache_enabled
        started_frame = ChatStarted(
            query=turn.query,
            metadata=ChatStartedMetadata(
                course_id=turn.course_id,
                chatroom_id=turn.chatroom_id,
                use_personalization=turn.use_personalization,
                cache_check="initiated" if cache_on else "disabled",
                turn_id=turn.turn_id,
            ),
        )
        TURN_ID.set(turn.turn_id)
        try:
            await sink.send(started_frame)
            with contextlib.suppress(*BACKING_ERRORS):
                await services.presence.chat_started(turn.turn_id)
            result = await self._stream_answer(turn, sink, state)
            latency = (time.perf_counter() - started) * 1000
            if result is None:
                status = "cancelled"
                await sink.send(build_cancelled(self._settings, turn, state, latency))
            else:
                await self._remember(turn, result.response, created)
                await sink.send(build_response(self._settings, turn, result, state.chunks, latency))
                status = "completed"
        except asyncio.CancelledError:
            status = "cancelled"
            raise
        except ClientGoneError:
            status = "cancelled"
        except ProtocolError as exc:
            error_code = exc.code
            await self._send_turn_error(sink, exc.code, exc.message)
        except BACKING_ERRORS:
            log.warning("turn %s: a backing service failed", turn.turn_id, exc_info=True)
            error_code = ErrorCode.SERVICE_UNAVAILABLE
            await self._send_turn_error(sink, error_code)
        except Exception:
            log.exception("turn %s failed", turn.turn_id)
            error_code = ErrorCode.INTERNAL_ERROR
            await self._send_turn_error(sink, error_code)
        finally:
            if sink.resumable:  # the log's last writes finish on their own; the turn is over
                services.background.spawn(sink.close(), f"log-{turn.turn_id}")
            latency = (time.perf_counter() - started) * 1000
            record = self._record(turn, state, status, error_code, latency, created)
            if state.first_chunk_at is not None:
                record.first_chunk_ms = round((state.first_chunk_at - started) * 1000, 1)
            if services.metrics is not None:
                observe_turn(services.metrics, record, state)
            services.background.spawn(self._finish(turn.turn_id, record), f"record-{turn.turn_id}")

    async def _stream_answer(
        self, turn: TurnRequest, sink: TurnSink, state: StreamState
    ) -> TurnResult | None:
        """The answer's text as chunks, then its result; None if the client's ``cancel`` stopped
        it (a cancel of the whole turn, by a clean close, propagates)."""
        buffer = PhraseBuffer(
            self._settings.stream_flush_interval_ms / 1000, self._settings.stream_min_chunk_chars
        )
        events = self._services.chat.answer(turn)
        self._streaming = streaming = asyncio.create_task(
            stream_events(events, sink.send, buffer, state), name=f"text-{turn.turn_id}"
        )
        try:
            return await streaming
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            return None
        finally:
            self._streaming = None

    async def _send_turn_error(
        self, sink: TurnSink, code: ErrorCode, message: str | None = None
    ) -> None:
        if self._services.metrics is not None:
            self._services.metrics.errors.labels(code=code.value).inc()
        with contextlib.suppress(ClientGoneError):
            await sink.send(ErrorMessage.of(code, message))

    async def _remember(self, turn: TurnRequest, answer: str, created: datetime) -> None:
        """The room's history gets this turn before its answer is out: a follow-up asked at once
        (on any worker) sees it, though its record reaches the database only later."""
        recent = self._services.recent
        if recent is None:
            return
        try:
            await recent.remember(
                turn.user_id, turn.chatroom_id, turn.turn_id, turn.query, answer, created
            )
        except BACKING_ERRORS:
            log.warning("turn %s not kept as recent history", turn.turn_id)

    def _record(
        self,
        turn: TurnRequest,
        state: StreamState,
        status: str,
        error_code: ErrorCode | None,
        latency_ms: float,
        created: datetime,
    ) -> TurnRecord:
        result = state.result
        usage = result.usage if result else []
        inp = sum(u.input_tokens for u in usage)
        out = sum(u.output_tokens for u in usage)
        return TurnRecord(
            id=turn.turn_id,
            user_id=turn.user_id,
            course_id=turn.course_id,
            chatroom_id=turn.chatroom_id,
            query=turn.query,
            answer=result.response if result and status == "completed" else state.text,
            sources=[s.model_dump() for s in to_sources(result.sources)] if result else [],
            cached=bool(result and result.cached),
            personalized=bool(result and result.personalized),
            response_source=result.response_source if result else "none",
            model=result.model_used if result else None,
            input_tokens=inp,
            output_tokens=out,
            total_tokens=inp + out,
            cost_usd=round(sum(u.cost_usd for u in usage), 8),
            latency_ms=round(latency_ms, 1),
            status=status,
            language=result.language if result else None,
            created_at=created,
            error_code=error_code.value if error_code else None,
            cache_key=result.cache_key if result else None,
        )

    async def _finish(self, turn_id: str, record: TurnRecord) -> None:
        services = self._services
        with contextlib.suppress(*BACKING_ERRORS):
            await services.presence.chat_finished(turn_id)
        try:
            await services.stats.record(
                record.status == "completed", record.cached, record.latency_ms, record.total_tokens
            )
        except BACKING_ERRORS:
            log.warning("stats not updated for turn %s", turn_id)
        try:
            await services.limiter.spend(record.user_id, record.total_tokens)
        except BACKING_ERRORS:
            log.warning("token budget not charged for turn %s", turn_id)
        await services.recorder.record(record)


def dropped_without_close(message: MutableMapping[str, Any]) -> bool:
    """Whether the socket went away without a close frame from the client.

    uvicorn's sans-I/O WebSocket reports a lost connection as 1005 with no ``reason`` key, while a
    close frame's disconnect always carries one (maybe empty) — also a close frame without a
    status code, which is 1005 as well.
    """
    code = message.get("code")
    return code in WS_DROPPED or (code == WS_1005_NO_STATUS and "reason" not in message)
