"""Curated answers as the first stage of a turn: before the semantic cache and the LLM.

The question's final vector (after a follow-up was made standalone) is matched against the
course's own active curated answers (:class:`~app.teaching.matcher.CuratedMatcher`). A match is the
turn's answer, streamed like any other; no match, or a matcher whose Redis or database is down,
lets the turn go on to the cache and the engine — curated answers improve a turn, they never
fail one.
"""

from __future__ import annotations

import logging

from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from app.rag.answer import Answer
from app.services.answer_cache import Accept
from app.services.cache import CacheScope
from app.services.question import Question
from app.teaching.curated_reply import curated_answer
from app.teaching.matcher import CuratedMatcher

log = logging.getLogger(__name__)
MATCH_ERRORS = (RedisError, SQLAlchemyError, OSError, TimeoutError)


class CuratedStage:
    name = "curated"

    def __init__(self, matcher: CuratedMatcher) -> None:
        self._matcher = matcher

    async def lookup(self, question: Question, scope: CacheScope, accept: Accept) -> Answer | None:
        try:
            match = await self._matcher.match_any(
                list(question.embedding), scope.course_ids, question.text
            )
        except MATCH_ERRORS as exc:
            log.warning("curated answers unavailable, answering without: %s", type(exc).__name__)
            return None
        if match is None:
            return None
        log.debug("curated answer %s matched at %.4f", match.record.id, match.distance)
        answer = curated_answer(match, self._matcher.threshold)
        return answer if accept(answer) else None
