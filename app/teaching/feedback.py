"""Ratings of answers, from the socket and from the page: who may rate what, and what a downvote
does to the semantic cache.

Only the user's own turns can be rated (``Principal.may_act_for``: the student who asked, or the
course's staff). A turn that does not exist and a turn that is someone else's get the same
answer, so turn ids cannot be probed. A downvote of an answer that came from, or went into, the
semantic cache takes that entry out of the cache until a lecturer has reviewed it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from app.auth.principal import Principal
from app.db.feedback_store import FeedbackStore, Rating, StoredFeedback
from app.protocol.errors import ErrorCode
from app.protocol.messages import ErrorMessage, Feedback, FeedbackAck
from app.teaching.reviews import ReviewQueue

log = logging.getLogger(__name__)


class TurnNotFoundError(LookupError):
    """No turn with this id that the caller may rate."""


@dataclass(frozen=True)
class FeedbackOutcome:
    feedback: StoredFeedback
    held_for_review: bool


class FeedbackService:
    def __init__(self, store: FeedbackStore, reviews: ReviewQueue | None) -> None:
        self._store = store
        self._reviews = reviews

    async def submit(
        self, principal: Principal, turn_id: str, rating: Rating, comment: str | None
    ) -> FeedbackOutcome:
        turn = await self._store.turn(turn_id)
        if turn is None or not principal.may_act_for(turn.user_id, turn.course_id):
            raise TurnNotFoundError(turn_id)
        stored = await self._store.rate(turn, principal.user_id, rating, comment)
        held = False
        if rating == "down" and turn.cache_key and self._reviews is not None:
            held = await self._reviews.hold(turn.cache_key, turn.course_id, turn.id)
            log.info("turn %s downvoted; cache entry held for review: %s", turn.id, held)
        return FeedbackOutcome(stored, held)


async def feedback_frame(
    service: FeedbackService | None, principal: Principal, message: Feedback
) -> FeedbackAck | ErrorMessage:
    """The socket's answer to a ``feedback`` frame: ``feedback_ack`` or a protocol error."""
    if service is None:
        return ErrorMessage.of(ErrorCode.SERVICE_UNAVAILABLE)
    try:
        outcome = await service.submit(principal, message.turn_id, message.rating, message.comment)
    except TurnNotFoundError:
        return ErrorMessage.of(ErrorCode.TURN_NOT_FOUND)
    except (SQLAlchemyError, RedisError, OSError, TimeoutError):
        log.warning("feedback on turn %s not stored", message.turn_id, exc_info=True)
        return ErrorMessage.of(ErrorCode.SERVICE_UNAVAILABLE)
    return FeedbackAck(
        turn_id=message.turn_id, rating=message.rating, held_for_review=outcome.held_for_review
    )
