"""Course insights and the weekly digest, for the course's lecturers.

``from`` / ``to`` take a date (``2025-03-01``) or a date-time; times without a zone are UTC. The
window defaults to the last seven days and may span at most a year.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Response, status
from fastapi.responses import HTMLResponse, PlainTextResponse
from pydantic import BaseModel, Field

from app.api.deps import PrincipalDep
from app.api.teaching_deps import CourseId, TeachingDep, require_staff, store_errors
from app.teaching import digest
from app.teaching.course_settings import Email
from app.teaching.insight_models import CourseInsights

router = APIRouter(prefix="/courses/{course_id}", tags=["insights"])
MAX_WINDOW = timedelta(days=366)
DEFAULT_WINDOW = timedelta(days=7)

From = Annotated[datetime | None, Query(alias="from", description="window start (inclusive)")]
To = Annotated[datetime | None, Query(alias="to", description="window end (exclusive)")]


class DigestRequest(BaseModel):
    recipients: list[Email] | None = Field(
        default=None, max_length=50, description="default: the course's digest recipients"
    )


class DigestSent(BaseModel):
    sent_to: list[str]
    subject: str


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.utcoffset() is None else value.astimezone(UTC)


def window(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    stop = _utc(end) if end else datetime.now(UTC)
    begin = _utc(start) if start else stop - DEFAULT_WINDOW
    if begin >= stop:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, detail="`from` must be before `to`."
        )
    if stop - begin > MAX_WINDOW:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, detail="The window may span at most 366 days."
        )
    return begin, stop


async def _build(
    course_id: str, start: datetime | None, end: datetime | None, teaching: TeachingDep
) -> CourseInsights:
    begin, stop = window(start, end)
    async with store_errors("insights store"):
        return await teaching.digests.build(course_id, begin, stop)


@router.get("/insights")
async def insights(
    course_id: CourseId,
    principal: PrincipalDep,
    teaching: TeachingDep,
    start: From = None,
    end: To = None,
) -> CourseInsights:
    """Topics, content gaps, downvoted answers and most-cited pages of a time window."""
    require_staff(principal, course_id)
    return await _build(course_id, start, end, teaching)


@router.get(
    "/digest",
    response_class=PlainTextResponse,
    response_model=None,
    responses={200: {"content": {"text/markdown": {}, "text/html": {}}}},
)
async def digest_page(
    course_id: CourseId,
    principal: PrincipalDep,
    teaching: TeachingDep,
    start: From = None,
    end: To = None,
    format: Literal["markdown", "html"] = "markdown",
) -> Response:
    """The digest of a window as Markdown or HTML (what the weekly e-mail contains)."""
    require_staff(principal, course_id)
    built = await _build(course_id, start, end, teaching)
    if format == "html":
        return HTMLResponse(digest.html_page(built))
    return PlainTextResponse(digest.markdown(built), media_type="text/markdown; charset=utf-8")


@router.post(
    "/digest/send",
    responses={status.HTTP_409_CONFLICT: {"description": "SMTP or recipients not configured"}},
)
async def send_digest(
    course_id: CourseId,
    principal: PrincipalDep,
    teaching: TeachingDep,
    body: DigestRequest | None = None,
    start: From = None,
    end: To = None,
) -> DigestSent:
    """Mail the digest of a window now (the weekly one goes out by itself)."""
    require_staff(principal, course_id)
    if not teaching.digests.configured:
        raise HTTPException(status.HTTP_409_CONFLICT, detail="No SMTP server is configured.")
    recipients = list(body.recipients) if body and body.recipients else None
    if recipients is None:
        async with store_errors("settings store"):
            recipients = list((await teaching.course_settings.get(course_id)).digest_recipients)
    if not recipients:
        raise HTTPException(status.HTTP_409_CONFLICT, detail="The course has no digest recipients.")
    built = await _build(course_id, start, end, teaching)
    try:
        await teaching.digests.mail(built, recipients)
    except (OSError, TimeoutError) as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, detail="The SMTP server did not take the mail."
        ) from exc
    return DigestSent(sent_to=recipients, subject=digest.subject(built))
