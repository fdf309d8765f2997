"""Where one turn's frames go: the one place that decides.

Every frame goes to the socket while the socket is attached. With resume on, the answer's frames
(``chat_chunk``\\ s, then the ``chat_response`` or ``error``) also go to the turn's log in Redis,
always: a socket that drops without a close frame detaches, and the answer carries on into the log
alone until a ``resume`` picks it up on any worker. Each frame is serialized once, for both.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pydantic import BaseModel

from app.protocol.messages import ChatChunk, ChatResponse, ErrorMessage
from app.services.turnlog import FINAL, TurnLogWriter


class ClientGoneError(Exception):
    """The client closed the socket; what is in flight for it is cancelled, not failed."""


SendText = Callable[[str], Awaitable[None]]


class TurnSink:
    def __init__(self, send_text: SendText, log: TurnLogWriter | None) -> None:
        self._send_text = send_text
        self._log = log
        self.attached = True
        self._finished = False
        if log is not None:
            log.start()

    @property
    def resumable(self) -> bool:
        return self._log is not None

    async def send(self, frame: BaseModel) -> None:
        """Send ``frame``; without a log, a socket that went away raises ClientGoneError."""
        text = frame.model_dump_json()
        if self._log is not None:
            if isinstance(frame, ChatChunk):
                self._log.add(frame.chunk_index, text)
            elif isinstance(frame, ChatResponse | ErrorMessage):
                self._log.add(FINAL, text)
                self._finished = True
        if not self.attached:
            return
        try:
            await self._send_text(text)
        except ClientGoneError:
            if self._log is None:
                raise
            self.attached = False  # the rest goes to the log only

    def detach(self) -> None:
        self.attached = False

    async def close(self) -> None:
        """Flush the log; an answer cut off with no final frame is deleted from it (a resume
        then gets TURN_NOT_FOUND at once rather than waiting for a frame that never comes)."""
        if self._log is not None:
            await self._log.close(discard=not self._finished)
