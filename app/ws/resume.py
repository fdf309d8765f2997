"""A ``resume``: the frames of one of the user's answers after the client's last chunk, from the
turn's log, live until its final frame — whichever worker runs the answer."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from app.protocol.errors import ErrorCode
from app.protocol.messages import Resume
from app.services.turnlog import BACKING_ERRORS, TurnGoneError, TurnLog
from app.ws.sink import ClientGoneError, SendText

log = logging.getLogger(__name__)
SendError = Callable[[ErrorCode, str | None], Awaitable[None]]


async def follow_turn(
    turn_log: TurnLog, request: Resume, send_text: SendText, send_error: SendError
) -> None:
    try:
        async for frame in turn_log.follow(request.turn_id, request.last_chunk_index):
            await send_text(frame.text)
    except ClientGoneError:
        pass
    except TurnGoneError:
        await send_error(
            ErrorCode.TURN_NOT_FOUND, "The answer can no longer be resumed; ask the question again."
        )
    except BACKING_ERRORS:
        log.warning("resume of turn %s failed", request.turn_id, exc_info=True)
        await send_error(ErrorCode.SERVICE_UNAVAILABLE, None)
