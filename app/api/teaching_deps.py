"""What the teaching endpoints share: the teaching services, the staff check, the course path
parameter and one mapping of store failures to a 503 a page can show."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, HTTPException, Path, status
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from app.api.deps import ServicesDep
from app.auth.principal import Principal
from app.teaching.services import TeachingServices

log = logging.getLogger(__name__)

CourseId = Annotated[
    str,
    Path(
        pattern=r"^[A-Za-z0-9_.@:\-]{1,128}$",
        description="1-128 letters, digits or _ . @ : -",
    ),
]


def get_teaching(services: ServicesDep) -> TeachingServices:
    if services.teaching is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail="Teaching tools are off.")
    return services.teaching


TeachingDep = Annotated[TeachingServices, Depends(get_teaching)]


def require_staff(principal: Principal, course_id: str | None) -> None:
    if not principal.is_staff_for(course_id):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail="Only the course's lecturers and staff may do this.",
        )


async def require_course(services: ServicesDep, course_id: str) -> None:
    async with store_errors("course catalog"):
        known = await services.versions.exists(course_id)
    if not known:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail=f"No material has been loaded for course {course_id!r}.",
        )


@asynccontextmanager
async def store_errors(what: str) -> AsyncIterator[None]:
    """A database or Redis that is down or slow becomes a 503; the traceback goes to the log."""
    try:
        yield
    except (SQLAlchemyError, RedisError, OSError, TimeoutError) as exc:
        log.exception("%s failed", what)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail=f"The {what} is unavailable right now; try again shortly.",
        ) from exc
