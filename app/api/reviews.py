"""The review queue of downvoted cached answers, for the course's lecturers: see each answer with
its downvotes and comments, then restore it to the cache or discard it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status
from pydantic import Field

from app.api.deps import PrincipalDep
from app.api.teaching_deps import CourseId, TeachingDep, require_staff, store_errors
from app.services.cache import ALL_COURSES
from app.teaching.reviews import HeldAnswer

router = APIRouter(prefix="/courses/{course_id}/reviews", tags=["reviews"])
EntryId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,128}$")]


class ReviewItem(HeldAnswer):
    comments: list[str] = Field(description="students' comments on this answer, newest first")


def _course(course_id: str) -> str | None:
    """``__all__`` is the queue of answers given without a course."""
    return None if course_id == ALL_COURSES else course_id


@router.get("")
async def list_reviews(
    course_id: CourseId, principal: PrincipalDep, teaching: TeachingDep
) -> list[ReviewItem]:
    """Cached answers taken out of the cache after a downvote, newest first."""
    require_staff(principal, _course(course_id))
    if teaching.reviews is None:
        return []
    async with store_errors("review queue"):
        items = await teaching.reviews.items(_course(course_id))
        out = []
        for item in items:
            ratings = await teaching.feedback_store.for_cache_key(item.cache_key)
            comments = [r.comment for r in ratings if r.rating == "down" and r.comment]
            out.append(ReviewItem(**item.model_dump(), comments=comments))
    return out


async def _act(course_id: str, entry_id: str, teaching: TeachingDep, restore: bool) -> None:
    if teaching.reviews is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="The semantic cache is off.")
    async with store_errors("review queue"):
        if restore:
            done = await teaching.reviews.restore(_course(course_id), entry_id)
        else:
            done = await teaching.reviews.discard(_course(course_id), entry_id)
    if not done:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail=f"No answer {entry_id!r} waits for review here."
        )


@router.post("/{entry_id}/restore", status_code=status.HTTP_204_NO_CONTENT)
async def restore_review(
    course_id: CourseId, entry_id: EntryId, principal: PrincipalDep, teaching: TeachingDep
) -> None:
    """The answer was fine: put it back into the cache."""
    require_staff(principal, _course(course_id))
    await _act(course_id, entry_id, teaching, restore=True)


@router.delete("/{entry_id}", status_code=status.HTTP_204_NO_CONTENT)
async def discard_review(
    course_id: CourseId, entry_id: EntryId, principal: PrincipalDep, teaching: TeachingDep
) -> None:
    """The answer was wrong: drop it for good (the next student gets a fresh answer)."""
    require_staff(principal, _course(course_id))
    await _act(course_id, entry_id, teaching, restore=False)
