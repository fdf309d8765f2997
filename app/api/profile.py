"""Read and replace a student's profile, the input to personalized answers.

The handlers stay thin: validation lives in :class:`~app.db.records.StudentProfile` and the path
pattern, storage in the repository. A database that is down or slow becomes a 503 with a message
fit for a client; the exception goes to the log.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, status
from sqlalchemy.exc import SQLAlchemyError

from app.api.deps import AuthenticatorDep, OptionalPrincipalDep, RepositoryDep
from app.db.records import ID_LEN, StudentProfile
from app.protocol.errors import ErrorCode, ProtocolError

log = logging.getLogger(__name__)

router = APIRouter(prefix="/users", tags=["students"])

UserId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=ID_LEN,
        pattern=r"^[A-Za-z0-9_.@:-]+$",
        description="1-128 characters of letters, digits and _ . @ : -",
    ),
]


async def owner_or_staff(
    user_id: UserId, principal: OptionalPrincipalDep, auth: AuthenticatorDep
) -> None:
    """A profile is read and written by its own user or by staff (any user in AUTH_MODE=none)."""
    if principal is None:
        if auth.enabled:
            raise ProtocolError(ErrorCode.UNAUTHORIZED, "Send Authorization: Bearer <token>.")
        return
    if not principal.may_act_for(user_id):
        raise ProtocolError(ErrorCode.FORBIDDEN, "This profile belongs to another user.")


@asynccontextmanager
async def _store_errors() -> AsyncIterator[None]:
    try:
        yield
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        log.exception("profile store failed")
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail="The profile store is unavailable right now; try again shortly.",
        ) from exc


@router.get(
    "/{user_id}/profile",
    responses={status.HTTP_404_NOT_FOUND: {"description": "No profile stored for this user"}},
    dependencies=[Depends(owner_or_staff)],
)
async def get_profile(user_id: UserId, repository: RepositoryDep) -> StudentProfile:
    async with _store_errors():
        profile = await repository.get_profile(user_id)
    if profile is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail=f"No profile stored for user {user_id!r}."
        )
    return profile


@router.put("/{user_id}/profile", dependencies=[Depends(owner_or_staff)])
async def put_profile(
    user_id: UserId, profile: StudentProfile, repository: RepositoryDep
) -> StudentProfile:
    """Replace the whole profile: a field left out is cleared."""
    async with _store_errors():
        return await repository.upsert_profile(user_id, profile)
