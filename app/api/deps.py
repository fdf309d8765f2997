"""Request-scoped access to what the lifespan opened, as ``Annotated`` aliases for handlers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

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
