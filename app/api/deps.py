"""Request-scoped access to what the lifespan opened, as ``Annotated`` aliases for handlers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.requests import HTTPConnection

from app.auth.principal import Principal
from app.auth.service import Authenticator
from app.db.repository import ChatRepository
from app.protocol.errors import ErrorCode, ProtocolError
from app.state import Services


def get_repository(request: Request) -> ChatRepository:
    repository: ChatRepository = request.state.repository
    return repository


RepositoryDep = Annotated[ChatRepository, Depends(get_repository)]


def get_services(request: Request) -> Services:
    services: Services = request.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_authenticator(request: Request) -> Authenticator:
    auth: Authenticator = request.state.auth
    return auth


AuthenticatorDep = Annotated[Authenticator, Depends(get_authenticator)]


def bearer_token(connection: HTTPConnection) -> str | None:
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


async def get_optional_principal(request: Request, auth: AuthenticatorDep) -> Principal | None:
    """The caller, or ``None`` when it presented nothing (a refused credential still raises).

    AUTH_MODE=none: the user id the client claims, in the ``X-User-Id`` header or the
    ``user_id`` query parameter (requests that arrived over a non-loopback address are refused
    unless AUTH_ALLOW_INSECURE=true). Otherwise only a verified ``Authorization: Bearer`` token.
    """
    if not auth.enabled:
        server = request.scope.get("server")
        if not auth.open_access_allowed(server[0] if server else None):
            raise ProtocolError(
                ErrorCode.UNAUTHORIZED,
                "AUTH_MODE=none answers loopback clients only; configure AUTH_MODE=token or lti.",
            )
        claimed = request.headers.get("x-user-id") or request.query_params.get("user_id") or ""
        claimed = claimed.strip()
        return Principal.unauthenticated(claimed) if claimed else None
    token = bearer_token(request)
    return await auth.from_bearer(token) if token else None


OptionalPrincipalDep = Annotated[Principal | None, Depends(get_optional_principal)]


async def get_principal(principal: OptionalPrincipalDep, auth: AuthenticatorDep) -> Principal:
    """The caller of an HTTP endpoint; 401 with a JSON body when it cannot be established."""
    if principal is not None:
        return principal
    if not auth.enabled:
        raise ProtocolError(
            ErrorCode.UNAUTHORIZED,
            "Say who you are: an X-User-Id header or a user_id query parameter.",
        )
    raise ProtocolError(ErrorCode.UNAUTHORIZED, "Send Authorization: Bearer <token>.")


PrincipalDep = Annotated[Principal, Depends(get_principal)]
