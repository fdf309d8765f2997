"""`/ws/stream`: check the handshake (Origin, identity, course, limits), then start a session.

Order of checks: the Origin allow-list first, refused with HTTP 403 before the upgrade (a foreign
page never gets a socket). Every later refusal is accepted, explained in one protocol ``error``
frame and closed with 1008, because a client learns nothing from a bare HTTP status.

Identity by ``AUTH_MODE``: ``none`` takes the ``user_id`` the client claims; ``token`` and ``lti``
take ``Authorization: Bearer <jwt>`` or a one-time ``ticket`` query parameter, and a ``user_id``
that differs from the verified one is refused (FORBIDDEN), never silently replaced.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, WebSocket
from redis.exceptions import RedisError

from app.api.deps import bearer_token
from app.auth.principal import Principal
from app.auth.service import Authenticator
from app.core.identifiers import InvalidIdentifierError, normalize_user_id, optional_course_id
from app.protocol.errors import ErrorCode, ProtocolError
from app.protocol.messages import ConnectionConfig, ConnectionMessage, ErrorMessage
from app.state import Services
from app.ws.session import WS_1008_POLICY_VIOLATION, WS_1011_INTERNAL_ERROR, ChatSession

log = logging.getLogger(__name__)
router = APIRouter()
BACKING_ERRORS = (RedisError, OSError, TimeoutError)


def connection_config(services: Services) -> ConnectionConfig:
    s = services.settings
    return ConnectionConfig(
        model_comprehensive=s.model_comprehensive,
        model_personalized=s.model_personalized,
        rag_threshold=s.chunk_cutoff,
        rag_top_k=s.rag_top_k,
        openai_temperature=s.openai_temperature,
        openai_max_tokens=s.openai_max_tokens,
        cache_enabled=s.cache_enabled,
        personalization_enabled=s.personalization_enabled,
        embedding_model=s.embedding_model_name,
        hybrid_retrieval=s.lexical_leg != "off",  # a lexical leg is fused with dense
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


async def identify(ws: WebSocket, auth: Authenticator) -> tuple[Principal, str | None]:
    """The connection's principal and the course its ticket was issued for (if any)."""
    claimed = (ws.query_params.get("user_id") or "").strip()
    try:
        claimed = normalize_user_id(claimed) if claimed else ""
    except InvalidIdentifierError as exc:
        raise ProtocolError(ErrorCode.INVALID_PARAMETER, str(exc)) from exc
    ticket, token = ws.query_params.get("ticket"), bearer_token(ws)
    if ticket:
        redeemed = await auth.from_ticket("ws", ticket)
        principal, bound = redeemed.principal, redeemed.course_id
    elif token and auth.enabled:
        principal, bound = await auth.from_bearer(token), None
    elif auth.enabled:
        raise ProtocolError(
            ErrorCode.UNAUTHORIZED,
            "Sign in: send Authorization: Bearer <token>, or a one-time ticket from "
            "POST /auth/ticket as ?ticket=...",
        )
    else:
        server = ws.scope.get("server")
        if not auth.open_access_allowed(server[0] if server else None):
            raise ProtocolError(
                ErrorCode.UNAUTHORIZED,
                "AUTH_MODE=none answers loopback clients only; configure AUTH_MODE=token or lti.",
            )
        if not claimed:
            raise ProtocolError(ErrorCode.MISSING_USER_ID)
        return Principal.unauthenticated(claimed), None
    if claimed and claimed != principal.user_id:
        raise ProtocolError(
            ErrorCode.FORBIDDEN, "user_id differs from the signed-in user; leave it out."
        )
    return principal, bound


async def resolve_course(
    ws: WebSocket, services: Services, principal: Principal, bound: str | None
) -> frozenset[str] | None:
    """The courses this connection answers from (``None``: every course, ``"*"`` only)."""
    try:
        requested = optional_course_id(ws.query_params.get("course_id"))
    except InvalidIdentifierError as exc:
        raise ProtocolError(ErrorCode.INVALID_PARAMETER, str(exc)) from exc
    if bound is not None and requested not in (None, bound):
        raise ProtocolError(
            ErrorCode.FORBIDDEN, f"This ticket was issued for course {bound!r}, not {requested!r}."
        )
    courses = Authenticator.course_scope(principal, requested or bound)
    await services.auth.recheck(principal, courses)
    if courses is not None and not await services.versions.any_exists(courses):
        named = ", ".join(sorted(courses))[:200]
        raise ProtocolError(
            ErrorCode.UNKNOWN_COURSE, f"No material has been loaded for course {named!r}."
        )
    return courses


def single_course(courses: frozenset[str] | None) -> str | None:
    """The ``course_id`` a connection reports: its one course, else ``None`` (several or all)."""
    return next(iter(courses)) if courses is not None and len(courses) == 1 else None


def client_ip(ws: WebSocket) -> str | None:
    return ws.client.host if ws.client else None


# A plain Starlette route: the handler takes no FastAPI dependencies, and FastAPI's own route
# would keep its dependency-solving frames and exit stacks for the life of every connection
# (~3.7 KiB per idle socket, docs/benchmarks.md section (g)).
@router.websocket_route("/ws/stream")
async def stream(ws: WebSocket) -> None:
    services: Services = ws.state.services
    if services.lifecycle.draining:  # this replica is stopping; the client reconnects elsewhere
        await _refuse(ws, ErrorCode.SERVICE_UNAVAILABLE, close=WS_1011_INTERNAL_ERROR)
        return
    auth = services.auth
    if not auth.origins.allows(ws.headers.get("origin"), ws.headers.get("host")):
        log.info("ws refused: foreign Origin %r", ws.headers.get("origin", "")[:80])
        await ws.close(code=WS_1008_POLICY_VIOLATION)  # before accept: HTTP 403
        return
    ip = client_ip(ws)
    try:
        principal, bound = await identify(ws, auth)
        courses = await resolve_course(ws, services, principal, bound)
        session = ChatSession(ws, services, principal, courses, ip)
        slot = session.connection_id
        refusal = await services.limiter.connect(slot, principal.user_id, ip)
    except ProtocolError as exc:
        await _refuse(ws, exc.code, exc.message)
        return
    except BACKING_ERRORS:
        log.warning("handshake checks failed", exc_info=True)
        await _refuse(ws, ErrorCode.SERVICE_UNAVAILABLE, close=WS_1011_INTERNAL_ERROR)
        return
    if refusal is not None:
        await _refuse(ws, ErrorCode.RATE_LIMIT_EXCEEDED, refusal.text())
        return
    try:
        await ws.accept()
        connection = ConnectionMessage(
            user_id=principal.user_id,
            course_id=single_course(courses),
            config=connection_config(services),
        )
        await session.run(connection)
    finally:
        try:
            await services.limiter.disconnect(slot, principal.user_id, ip)
        except BACKING_ERRORS:
            log.warning("connection slot not released (it expires on its own)")
