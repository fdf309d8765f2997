"""`/ws/stream`: validate the connection parameters, then hand the socket to a ChatSession."""

from __future__ import annotations

import logging
import re

from fastapi import APIRouter, WebSocket
from redis.exceptions import RedisError

from app.protocol.errors import ErrorCode
from app.protocol.messages import ConnectionConfig, ConnectionMessage, ErrorMessage
from app.state import Services
from app.ws.session import WS_1008_POLICY_VIOLATION, WS_1011_INTERNAL_ERROR, ChatSession

log = logging.getLogger(__name__)
router = APIRouter()

IDENTIFIER = re.compile(r"^[A-Za-z0-9_.@:\-]{1,128}$")
# Browser clients built from string templates send these for "no course".
ABSENT = {"", "null", "undefined", "none"}


def connection_config(services: Services) -> ConnectionConfig:
    s = services.settings
    return ConnectionConfig(
        model_comprehensive=s.model_comprehensive,
        model_personalized=s.model_personalized,
        rag_threshold=s.distance_threshold,
        rag_top_k=s.rag_top_k,
        openai_temperature=s.openai_temperature,
        openai_max_tokens=s.openai_max_tokens,
        cache_enabled=s.cache_enabled,
        personalization_enabled=s.personalization_enabled,
        embedding_model=s.embedding_model_name,
        hybrid_retrieval=s.rag_hybrid,
        max_message_bytes=s.ws_max_message_bytes,
        idle_timeout_seconds=s.ws_idle_timeout_seconds,
    )


async def _refuse(
    ws: WebSocket,
    code: ErrorCode,
    message: str | None = None,
    close: int = WS_1008_POLICY_VIOLATION,
) -> None:
    """Accept, explain in a protocol error frame, close: a bare HTTP 403 tells a client nothing."""
    await ws.accept()
    await ws.send_text(ErrorMessage.of(code, message).model_dump_json())
    await ws.close(code=close)


@router.websocket("/ws/stream")
async def stream(ws: WebSocket) -> None:
    services: Services = ws.state.services
    if services.lifecycle.draining:  # this replica is stopping; the client reconnects elsewhere
        await _refuse(ws, ErrorCode.SERVICE_UNAVAILABLE, close=WS_1011_INTERNAL_ERROR)
        return
    user_id = (ws.query_params.get("user_id") or "").strip()
    course_id: str | None = (ws.query_params.get("course_id") or "").strip()
    if course_id is not None and course_id.lower() in ABSENT:
        course_id = None
    if not user_id:
        await _refuse(ws, ErrorCode.MISSING_USER_ID)
        return
    for name, value in (("user_id", user_id), ("course_id", course_id)):
        if value is not None and not IDENTIFIER.match(value):
            await _refuse(ws, ErrorCode.INVALID_PARAMETER, f"Invalid {name}: {value[:40]!r}.")
            return
    if course_id is not None:
        try:
            known = await services.versions.exists(course_id)
        except (RedisError, OSError, TimeoutError):
            log.warning("course lookup failed", exc_info=True)
            await _refuse(ws, ErrorCode.SERVICE_UNAVAILABLE, close=WS_1011_INTERNAL_ERROR)
            return
        if not known:
            await _refuse(
                ws,
                ErrorCode.UNKNOWN_COURSE,
                f"No material has been loaded for course {course_id!r}.",
            )
            return
    await ws.accept()
    connection = ConnectionMessage(
        user_id=user_id, course_id=course_id, config=connection_config(services)
    )
    await ChatSession(ws, services, user_id, course_id).run(connection)
