"""One way for the pages' HTTP endpoints to say a backing store is down: a 503 with a message."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import HTTPException, status
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)

BACKING_ERRORS = (RedisError, SQLAlchemyError, OSError, TimeoutError)


@asynccontextmanager
async def unavailable_as_503(what: str) -> AsyncIterator[None]:
    """Turn a failing Redis or database call into a 503 whose detail names ``what``."""
    try:
        yield
    except BACKING_ERRORS as exc:
        log.warning("%s unavailable (%s)", what, type(exc).__name__, exc_info=True)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail=f"{what} is unavailable right now; try again shortly.",
        ) from exc
