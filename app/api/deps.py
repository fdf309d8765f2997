"""Request-scoped access to what the lifespan opened, as ``Annotated`` aliases for handlers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from app.auth.principal import Principal
from app.db.repository import ChatRepository
from app.state import Services


def get_repository(request: Request) -> ChatRepository:
    repository: ChatRepository = request.state.repository
    return repository


RepositoryDep = Annotated[ChatRepository, Depends(get_repository)]


def get_services(request: Request) -> Services:
    services: Services = request.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_principal(request: Request) -> Principal:
    """The caller of an HTTP endpoint.

    AUTH_MODE=none (the only mode so far): the user id the client claims, in the ``X-User-Id``
    header or the ``user_id`` query parameter. The identity issue replaces this with verified
    tokens; handlers depend on :data:`PrincipalDep` only, so they do not change.
    """
    claimed = request.headers.get("x-user-id") or request.query_params.get("user_id") or ""
    claimed = claimed.strip()
    if not claimed:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="Say who you are: an X-User-Id header or a user_id query parameter.",
        )
    return Principal.unauthenticated(claimed)


PrincipalDep = Annotated[Principal, Depends(get_principal)]
