"""``GET /courses/{course_id}/turns``: a course's recent answers for its lecturers, with their
ratings and cited pages, so a good one can become a curated answer. Students appear only when the
course shows student ids (the same opt-in as insights)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from app.api.deps import PrincipalDep
from app.api.insights import From, To, window
from app.api.teaching_deps import CourseId, TeachingDep, require_staff, store_errors
from app.db.course_turns import AnsweredTurn

router = APIRouter(prefix="/courses/{course_id}", tags=["insights"])
MAX_SOURCES = 10


class CitedPage(BaseModel):
    material_id: str
    page_number: int | None
    page_label: str | None
    title: str | None
    filename: str | None


class CourseAnswer(BaseModel):
    turn_id: str
    question: str
    answer: str
    response_source: str = Field(description="rag, cache, curated, not_covered, ...")
    created_at: datetime
    upvotes: int
    downvotes: int
    sources: list[CitedPage] = Field(description="the pages the answer cited, distinct, in order")
    student: str | None = Field(description="only when the course shows student ids")


def _pages(sources: list[dict[str, Any]]) -> list[CitedPage]:
    pages: dict[tuple[str, int | None], CitedPage] = {}
    for source in sources:
        meta = source.get("metadata", source)
        material = meta.get("material_id")
        if not material:
            continue
        page = int(meta["page_number"]) if meta.get("page_number") else None
        pages.setdefault(
            (str(material), page),
            CitedPage(
                material_id=str(material),
                page_number=page,
                page_label=str(meta["page_label"]) if meta.get("page_label") else None,
                title=meta.get("title"),
                filename=meta.get("filename"),
            ),
        )
    return list(pages.values())[:MAX_SOURCES]


def _answer(turn: AnsweredTurn, show_students: bool) -> CourseAnswer:
    return CourseAnswer(
        turn_id=turn.id,
        question=turn.query,
        answer=turn.answer,
        response_source=turn.response_source,
        created_at=turn.created_at,
        upvotes=turn.upvotes,
        downvotes=turn.downvotes,
        sources=_pages(turn.sources),
        student=turn.user_id if show_students else None,
    )


@router.get("/turns", summary="A course's recent answers")
async def course_turns(
    course_id: CourseId,
    principal: PrincipalDep,
    teaching: TeachingDep,
    start: From = None,
    end: To = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[CourseAnswer]:
    """The course's answered questions of a window (default: the last 7 days), newest first."""
    require_staff(principal, course_id)
    begin, stop = window(start, end)
    async with store_errors("turn store"):
        show = (await teaching.course_settings.get(course_id)).show_student_ids
        turns = await teaching.course_turns.answered(course_id, begin, stop, limit)
    return [_answer(t, show) for t in turns]
