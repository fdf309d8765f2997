"""``POST /turns/{turn_id}/feedback``: the page's way to rate an answer (the socket has the
``feedback`` frame). Same rules: only the caller's own turns, unknown and foreign turns alike 404.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, status
from pydantic import BaseModel, Field

from app.api.deps import PrincipalDep, ServicesDep
from app.api.teaching_deps import TeachingDep, store_errors
from app.protocol.messages import MAX_COMMENT_CHARS, TURN_ID_PATTERN
from app.teaching.feedback import TurnNotFoundError

router = APIRouter(tags=["feedback"])
RECORD_WAIT_S = 5.0

TurnId = Annotated[str, Path(pattern=TURN_ID_PATTERN, description="`metadata.turn_id`")]


class FeedbackIn(BaseModel):
    rating: Literal["up", "down"]
    comment: str | None = Field(default=None, max_length=MAX_COMMENT_CHARS)


class FeedbackOut(BaseModel):
    turn_id: str
    rating: Literal["up", "down"]
    comment: str | None
    held_for_review: bool = Field(
        description="a downvoted cached answer was taken out of the cache for review"
    )
    updated_at: datetime


@router.post(
    "/turns/{turn_id}/feedback",
    responses={status.HTTP_404_NOT_FOUND: {"description": "Not one of the caller's turns"}},
)
async def rate_turn(
    turn_id: TurnId,
    body: FeedbackIn,
    principal: PrincipalDep,
    services: ServicesDep,
    teaching: TeachingDep,
) -> FeedbackOut:
    """Rate one of your answers; rating again replaces the earlier rating."""
    await services.background.wait_for(f"record-{turn_id}", RECORD_WAIT_S)
    comment = body.comment.strip() if body.comment else None
    try:
        async with store_errors("feedback store"):
            outcome = await teaching.feedback.submit(
                principal, turn_id, body.rating, comment or None
            )
    except TurnNotFoundError as exc:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail="None of your answers has this turn id."
        ) from exc
    stored = outcome.feedback
    return FeedbackOut(
        turn_id=stored.turn_id,
        rating=stored.rating,
        comment=stored.comment,
        held_for_review=outcome.held_for_review,
        updated_at=stored.updated_at,
    )
