"""`GET /api/stats`: the lecturer dashboard's numbers for a course (or all) over a date range.

Staff only: ``is_staff_for`` of the Principal decides (with ``AUTH_MODE=none`` everyone is staff,
as everything is open there). Without ``course_id`` the report covers every course the caller is
staff of. ``format=csv`` returns one table of the same report for a spreadsheet.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import Response
from pydantic import Field

from app.api.deps import PrincipalDep, ServicesDep
from app.api.readers import ReportsDep
from app.api.unavailable import BACKING_ERRORS, unavailable_as_503
from app.auth.principal import Principal
from app.db.reports import CourseStats, DayStats, ModelStats, ReportQuery, StatsReport
from app.protocol.errors import ErrorCode, ProtocolError

router = APIRouter(prefix="/api", tags=["dashboard"])

DEFAULT_DAYS = 30
MAX_DAYS = 366


class StatsResponse(StatsReport):
    course_id: str | None = Field(description="the course reported on; null: all the caller's")
    date_from: date = Field(serialization_alias="from")
    date_to: date = Field(serialization_alias="to")
    connections_now: int | None = Field(
        description="open chat connections of the report's courses (all connections overall)"
    )
    active_chats: int | None = Field(description="answers streaming right now, all courses")
    generated_at: datetime


def _scope(principal: Principal, course_id: str | None) -> frozenset[str] | None:
    """The courses the report may cover; raises 403 for anyone who is not staff of them."""
    if course_id is not None:
        if not principal.is_staff_for(course_id):
            raise ProtocolError(
                ErrorCode.FORBIDDEN, f"The dashboard of course {course_id!r} is for its staff only."
            )
        return frozenset({course_id})
    if not principal.is_staff:
        raise ProtocolError(ErrorCode.FORBIDDEN, "The dashboard is for staff only.")
    return None if principal.all_courses else principal.courses


def _range(start: date | None, end: date | None) -> tuple[date, date]:
    end = end or datetime.now(UTC).date()
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"`from` ({start}) is after `to` ({end}).",
        )
    if (end - start).days >= MAX_DAYS:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"The range covers more than {MAX_DAYS} days; choose a shorter one.",
        )
    return start, end


def _csv(report: StatsResponse, table: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if table == "models":
        writer.writerow(list(ModelStats.model_fields))
        writer.writerows([list(m.model_dump().values()) for m in report.models])
    elif table == "courses":
        writer.writerow(list(CourseStats.model_fields))
        writer.writerows([list(c.model_dump().values()) for c in report.courses])
    else:
        flat = [n for n in DayStats.model_fields if n not in ("latency_ms", "first_chunk_ms")]
        extra = ["latency_p50_ms", "latency_p95_ms", "first_chunk_p50_ms", "first_chunk_p95_ms"]
        writer.writerow(["date", *[n for n in flat if n != "date"], *extra])
        for day in report.daily:
            values = day.model_dump()
            writer.writerow(
                [
                    *[values[n] for n in ["date", *[n for n in flat if n != "date"]]],
                    day.latency_ms.p50,
                    day.latency_ms.p95,
                    day.first_chunk_ms.p50,
                    day.first_chunk_ms.p95,
                ]
            )
    return out.getvalue()


@router.get(
    "/stats",
    response_model=StatsResponse,
    response_model_by_alias=True,
    responses={
        status.HTTP_200_OK: {"content": {"text/csv": {}}},
        status.HTTP_403_FORBIDDEN: {"description": "Not staff of the course(s)"},
    },
)
async def stats(
    principal: PrincipalDep,
    services: ServicesDep,
    reports: ReportsDep,
    course_id: Annotated[str | None, Query(max_length=128)] = None,
    date_from: Annotated[date | None, Query(alias="from", description="first day, UTC")] = None,
    date_to: Annotated[date | None, Query(alias="to", description="last day, UTC")] = None,
    format: Literal["json", "csv"] = "json",
    table: Annotated[Literal["daily", "models", "courses"], Query()] = "daily",
) -> StatsResponse | Response:
    """Questions per day, cache hit rate, p50/p95 latency and first-chunk time, tokens and cost
    per model, the not-covered rate and the connections open now."""
    course_id = course_id or None
    scope = _scope(principal, course_id)
    start, end = _range(date_from, date_to)
    query = ReportQuery(
        start=datetime.combine(start, time.min, UTC),
        end=datetime.combine(end + timedelta(days=1), time.min, UTC),
        course_ids=scope,
    )
    async with unavailable_as_503("The turn records"):
        report = await reports.report(query)
    connections: int | None = None
    chats: int | None = None
    try:
        snapshot = await services.presence.snapshot()
        connections, chats = snapshot.connections_in(scope), snapshot.active_chats
    except BACKING_ERRORS:
        pass  # the numbers from the database are still worth showing
    response = StatsResponse(
        **report.model_dump(),
        course_id=course_id,
        date_from=start,
        date_to=end,
        connections_now=connections,
        active_chats=chats,
        generated_at=datetime.now(UTC),
    )
    if format == "csv":
        name = f"tutor-stats-{course_id or 'all'}-{table}-{start}-{end}.csv"
        return Response(
            _csv(response, table),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return response
