"""`/auth/*`: what a browser needs around the WebSocket, and revocation for staff and platforms.

- ``POST /auth/ticket`` (Bearer) → a one-time ticket for ``/ws/stream?ticket=...``; browsers
  cannot put a header on a WebSocket handshake, and a long-lived token never goes in a URL.
- ``POST /auth/session`` exchanges the one-time launch ticket an LTI launch put in the chat page's
  URL for a short-lived bearer token signed by this server.
- ``GET /auth/me`` says which mode the server runs in and who the caller is.
- ``POST /auth/revoke`` withdraws credentials issued until now (see app/auth/revocation.py).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body
from pydantic import BaseModel, Field, field_validator

from app.api.deps import AuthenticatorDep, OptionalPrincipalDep, PrincipalDep
from app.auth.principal import Principal
from app.core.identifiers import normalize_user_id, optional_course_id
from app.protocol.errors import ErrorCode, ProtocolError

router = APIRouter(prefix="/auth", tags=["auth"])
LAUNCH_TICKET_SECONDS = 120


class TicketRequest(BaseModel):
    course_id: str | None = None

    @field_validator("course_id")
    @classmethod
    def _course(cls, value: str | None) -> str | None:
        return optional_course_id(value)


class TicketResponse(BaseModel):
    ticket: str
    expires_in: int


class SessionRequest(BaseModel):
    ticket: str = Field(min_length=1, max_length=128)


class Identity(BaseModel):
    user_id: str | None
    role: Literal["student", "staff"] | None
    courses: list[str]


class SessionResponse(Identity):
    token: str
    expires_in: int
    course_id: str | None = None  # the course the launch came from


class MeResponse(Identity):
    auth_mode: Literal["none", "token", "lti"]


class RevokeRequest(BaseModel):
    user_id: str | None = None
    course_id: str | None = None
    token_id: str | None = Field(default=None, max_length=128)

    @field_validator("user_id")
    @classmethod
    def _user(cls, value: str | None) -> str | None:
        return None if value is None else normalize_user_id(value)

    @field_validator("course_id")
    @classmethod
    def _course(cls, value: str | None) -> str | None:
        return optional_course_id(value)


class RevokeResponse(BaseModel):
    revoked_at: float
    user_id: str | None
    course_id: str | None
    token_id: str | None


def _identity(principal: Principal) -> dict[str, object]:
    return {
        "user_id": principal.user_id,
        "role": principal.role,
        "courses": sorted(principal.courses),
    }


@router.post("/ticket")
async def ticket(
    principal: PrincipalDep,
    auth: AuthenticatorDep,
    body: Annotated[TicketRequest | None, Body()] = None,
) -> TicketResponse:
    course_id = body.course_id if body else None
    if course_id is not None and not principal.can_read(course_id):
        raise ProtocolError(ErrorCode.FORBIDDEN, f"You are not enrolled in course {course_id!r}.")
    ttl = auth.settings.auth_ticket_ttl_seconds
    value = await auth.tickets.issue("ws", principal, course_id, ttl)
    return TicketResponse(ticket=value, expires_in=ttl)


@router.post("/session")
async def session(body: SessionRequest, auth: AuthenticatorDep) -> SessionResponse:
    if auth.sessions is None or auth.mode != "lti":
        raise ProtocolError(
            ErrorCode.UNAUTHORIZED,
            f"Sessions start from an LMS launch; this server runs AUTH_MODE={auth.mode}.",
        )
    launch = await auth.from_ticket("launch", body.ticket)
    token = auth.sessions.issue(launch.principal)
    return SessionResponse(
        token=token,
        expires_in=auth.sessions.ttl_seconds,
        course_id=launch.course_id,
        **_identity(launch.principal),
    )


@router.get("/me")
async def me(principal: OptionalPrincipalDep, auth: AuthenticatorDep) -> MeResponse:
    if principal is None:
        if auth.enabled:
            raise ProtocolError(ErrorCode.UNAUTHORIZED, "Send Authorization: Bearer <token>.")
        return MeResponse(auth_mode="none", user_id=None, role=None, courses=[])
    return MeResponse(auth_mode=auth.mode, **_identity(principal))


@router.post("/revoke")
async def revoke(
    body: RevokeRequest, principal: PrincipalDep, auth: AuthenticatorDep
) -> RevokeResponse:
    """Staff of a course revoke a user's access to it; staff of every course (or the platform's
    service token) revoke an account or any token; anyone may revoke their own credentials."""
    if not auth.enabled:
        raise ProtocolError(
            ErrorCode.INVALID_PARAMETER, "AUTH_MODE=none issues no credentials to revoke."
        )
    if body.user_id is None and body.token_id is None:
        raise ProtocolError(ErrorCode.INVALID_PARAMETER, "Name a user_id or a token_id.")
    own = body.user_id in (None, principal.user_id) and (
        body.token_id is None or body.token_id == principal.token_id
    )
    if not own and not principal.is_staff_for(body.course_id):
        raise ProtocolError(
            ErrorCode.FORBIDDEN,
            "Only staff of that course (or of every course, without course_id) may revoke.",
        )
    at = await auth.revocations.revoke(body.user_id, body.course_id, body.token_id)
    return RevokeResponse(
        revoked_at=at, user_id=body.user_id, course_id=body.course_id, token_id=body.token_id
    )
