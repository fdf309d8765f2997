"""Curated answers of a course, for its lecturers: write, list, edit, delete, try a question
against them, and turn a good answer a student got into a curated one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Response, status
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError

from app.api.deps import PrincipalDep, ServicesDep
from app.api.teaching_deps import (
    CourseId,
    TeachingDep,
    require_course,
    require_staff,
    store_errors,
)
from app.protocol.messages import TURN_ID_PATTERN
from app.teaching.curated import CuratedAnswer, CuratedAnswerIn, CuratedAnswerPatch
from app.teaching.references import ReferenceError, ReferenceIn

router = APIRouter(prefix="/courses/{course_id}/answers", tags=["curated answers"])
AnswerId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
TurnId = Annotated[str, Path(pattern=TURN_ID_PATTERN)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    status.HTTP_404_NOT_FOUND: {"description": "No such curated answer in this course"}
}


class FromTurn(BaseModel):
    """Optional edits; left out, the turn's question, answer and cited pages are used."""

    question: str | None = Field(default=None, min_length=1, max_length=1000)
    answer: str | None = Field(default=None, min_length=1, max_length=8000)
    references: list[ReferenceIn] | None = Field(
        default=None, max_length=10, description="instead of the pages the answer cited"
    )


class MatchQuery(BaseModel):
    question: str = Field(min_length=1, max_length=1000)


class MatchResult(BaseModel):
    matched: CuratedAnswer | None
    distance: float | None
    threshold: float


@asynccontextmanager
async def _writing() -> AsyncIterator[None]:
    try:
        async with store_errors("curated answer store"):
            yield
    except ReferenceError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from exc
    except IntegrityError as exc:
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail="Another curated answer has this question."
        ) from exc


def _missing(answer_id: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, detail=f"No curated answer {answer_id!r}.")


@router.put("", responses={status.HTTP_201_CREATED: {"model": CuratedAnswer}})
async def put_answer(
    course_id: CourseId,
    body: CuratedAnswerIn,
    principal: PrincipalDep,
    services: ServicesDep,
    teaching: TeachingDep,
    response: Response,
) -> CuratedAnswer:
    """Save the course's answer to a question (201); the same question again replaces it (200)."""
    require_staff(principal, course_id)
    await require_course(services, course_id)
    async with _writing():
        answer, created = await teaching.curated.put(course_id, body, principal.user_id)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return answer


@router.get("")
async def list_answers(
    course_id: CourseId, principal: PrincipalDep, teaching: TeachingDep
) -> list[CuratedAnswer]:
    """All curated answers, oldest first; answers whose material changed say `needs_review`."""
    require_staff(principal, course_id)
    async with store_errors("curated answer store"):
        return await teaching.curated.list(course_id)


@router.get("/{answer_id}", responses=NOT_FOUND)
async def get_answer(
    course_id: CourseId, answer_id: AnswerId, principal: PrincipalDep, teaching: TeachingDep
) -> CuratedAnswer:
    require_staff(principal, course_id)
    async with store_errors("curated answer store"):
        answer = await teaching.curated.get(course_id, answer_id)
    if answer is None:
        raise _missing(answer_id)
    return answer


@router.patch("/{answer_id}", responses=NOT_FOUND)
async def edit_answer(
    course_id: CourseId,
    answer_id: AnswerId,
    patch: CuratedAnswerPatch,
    principal: PrincipalDep,
    teaching: TeachingDep,
) -> CuratedAnswer:
    """Edit question, answer or references; an edit (or `reviewed: true`) clears a review flag."""
    require_staff(principal, course_id)
    async with _writing():
        answer = await teaching.curated.edit(course_id, answer_id, patch, principal.user_id)
    if answer is None:
        raise _missing(answer_id)
    return answer


@router.delete("/{answer_id}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND)
async def delete_answer(
    course_id: CourseId, answer_id: AnswerId, principal: PrincipalDep, teaching: TeachingDep
) -> None:
    require_staff(principal, course_id)
    async with store_errors("curated answer store"):
        deleted = await teaching.curated.delete(course_id, answer_id)
    if not deleted:
        raise _missing(answer_id)


@router.post("/match")
async def try_match(
    course_id: CourseId, body: MatchQuery, principal: PrincipalDep, teaching: TeachingDep
) -> MatchResult:
    """Which curated answer a student asking this would get (nothing: the tutor answers)."""
    require_staff(principal, course_id)
    async with store_errors("curated answer store"):
        vector = await teaching.curated.embed(body.question)
        match = await teaching.matcher.match(vector, course_id, body.question)
    threshold = teaching.matcher.threshold
    if match is None:
        return MatchResult(matched=None, distance=None, threshold=threshold)
    return MatchResult(
        matched=CuratedAnswer.of(match.record), distance=match.distance, threshold=threshold
    )


@router.post(
    "/from-turn/{turn_id}",
    status_code=status.HTTP_201_CREATED,
    responses={status.HTTP_404_NOT_FOUND: {"description": "No such turn in this course"}},
)
async def from_turn(
    course_id: CourseId,
    turn_id: TurnId,
    principal: PrincipalDep,
    services: ServicesDep,
    teaching: TeachingDep,
    body: FromTurn | None = None,
) -> CuratedAnswer:
    """Turn a good answer a student got into the course's curated answer to that question."""
    require_staff(principal, course_id)
    await require_course(services, course_id)
    async with store_errors("turn store"):
        turn = await teaching.feedback_store.turn(turn_id)
    if turn is None or turn.course_id != course_id or not turn.answer.strip():
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail=f"No answered turn {turn_id!r} in {course_id!r}."
        )
    pages: dict[tuple[str, int], ReferenceIn] = {}
    for source in turn.sources:
        meta = source.get("metadata", source)
        if meta.get("material_id") and meta.get("page_number"):
            key = (str(meta["material_id"]), int(meta["page_number"]))
            pages.setdefault(key, ReferenceIn(material_id=key[0], page=key[1]))
    edits = body or FromTurn()
    answer_in = CuratedAnswerIn(
        question=edits.question or turn.query,
        answer=edits.answer or turn.answer,
        references=edits.references if edits.references is not None else list(pages.values())[:10],
    )
    async with _writing():
        answer, _ = await teaching.curated.put(
            course_id, answer_in, principal.user_id, source_turn_id=turn.id
        )
    return answer
