"""Numbers for the lecturer dashboard, computed from the turn records in SQL.

Counts and sums are ``GROUP BY`` queries that run the same on SQLite and PostgreSQL. Percentiles
are the one thing the two differ on: PostgreSQL computes them itself (``percentile_cont``);
SQLite, the small single-server default, sends the latency columns of the range and they are
interpolated here the same way, so both backends report the same values for the same turns.

Days are UTC calendar days. Latency percentiles cover completed turns only (a failed or
cancelled turn's time says nothing about answering); first-chunk percentiles cover turns that
streamed at least one chunk.
"""

from __future__ import annotations

import asyncio
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.db.repository import TURNS

QUANTILES = (0.5, 0.95)


class Percentiles(BaseModel):
    p50: float | None = None
    p95: float | None = None


class Counts(BaseModel):
    questions: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    cache_hits: int = 0
    not_covered: int = 0
    personalized: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


class Summary(Counts):
    cache_hit_rate: float = 0.0  # cache hits / completed turns
    not_covered_rate: float = 0.0  # "not covered" answers / completed turns
    latency_ms: Percentiles = Percentiles()
    first_chunk_ms: Percentiles = Percentiles()


class DayStats(Summary):
    date: str  # YYYY-MM-DD, UTC


class Totals(Summary):
    users: int = 0


class ModelStats(BaseModel):
    model: str
    turns: int
    input_tokens: int
    output_tokens: int
    cost_usd: float


class CourseStats(BaseModel):
    course_id: str | None
    questions: int
    completed: int
    cache_hits: int
    not_covered: int
    cost_usd: float


class StatsReport(BaseModel):
    totals: Totals
    daily: list[DayStats]
    models: list[ModelStats]
    courses: list[CourseStats]


@dataclass(frozen=True)
class ReportQuery:
    start: datetime  # inclusive, aware
    end: datetime  # exclusive, aware
    course_ids: frozenset[str] | None  # None: every course (and turns asked without one)


def interpolate(values: list[float], q: float) -> float | None:
    """The ``q`` quantile of sorted ``values``, linearly interpolated (PostgreSQL's
    ``percentile_cont``)."""
    if not values:
        return None
    position = (len(values) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    value = values[low] + (values[high] - values[low]) * (position - low)
    return round(value, 1)


def _counts_columns() -> list[Any]:
    completed = TURNS.c.status == "completed"
    return [
        func.count().label("questions"),
        func.sum(case((completed, 1), else_=0)).label("completed"),
        func.sum(case((TURNS.c.status == "failed", 1), else_=0)).label("failed"),
        func.sum(case((TURNS.c.status == "cancelled", 1), else_=0)).label("cancelled"),
        func.sum(case((and_(completed, TURNS.c.cached), 1), else_=0)).label("cache_hits"),
        func.sum(
            case((and_(completed, TURNS.c.response_source == "not_covered"), 1), else_=0)
        ).label("not_covered"),
        func.sum(case((TURNS.c.personalized, 1), else_=0)).label("personalized"),
        func.coalesce(func.sum(TURNS.c.input_tokens), 0).label("input_tokens"),
        func.coalesce(func.sum(TURNS.c.output_tokens), 0).label("output_tokens"),
        func.coalesce(func.sum(TURNS.c.cost_usd), 0.0).label("cost_usd"),
    ]


def _counts(row: Any) -> dict[str, Any]:
    """Counts of one result row, with the rates derived from them."""
    values: dict[str, Any] = {
        name: int(row[name] or 0) for name in Counts.model_fields if name != "cost_usd"
    }
    values["cost_usd"] = round(float(row["cost_usd"] or 0.0), 8)
    completed = values["completed"]
    values["cache_hit_rate"] = round(values["cache_hits"] / completed, 4) if completed else 0.0
    values["not_covered_rate"] = round(values["not_covered"] / completed, 4) if completed else 0.0
    return values


class TurnReports:
    def __init__(self, engine: AsyncEngine, timeout: float) -> None:
        self._engine = engine
        self._timeout = timeout
        self._postgres = engine.dialect.name == "postgresql"

    def _day(self) -> ColumnElement[str]:
        if self._postgres:
            return func.to_char(func.timezone("UTC", TURNS.c.created_at), "YYYY-MM-DD")
        return func.date(TURNS.c.created_at)

    def _where(self, query: ReportQuery) -> list[ColumnElement[bool]]:
        conditions = [TURNS.c.created_at >= query.start, TURNS.c.created_at < query.end]
        if query.course_ids is not None:
            conditions.append(TURNS.c.course_id.in_(sorted(query.course_ids)))
        return conditions

    async def report(self, query: ReportQuery) -> StatsReport:
        where = self._where(query)
        day = self._day().label("day")
        async with asyncio.timeout(self._timeout), self._engine.connect() as connection:
            total_row = (
                (
                    await connection.execute(
                        select(
                            *_counts_columns(),
                            func.count(func.distinct(TURNS.c.user_id)).label("users"),
                        ).where(*where)
                    )
                )
                .mappings()
                .one()
            )
            day_rows = (
                (
                    await connection.execute(
                        select(day, *_counts_columns()).where(*where).group_by(day).order_by(day)
                    )
                )
                .mappings()
                .all()
            )
            model_rows = (
                (
                    await connection.execute(
                        select(
                            TURNS.c.model,
                            func.count().label("turns"),
                            func.coalesce(func.sum(TURNS.c.input_tokens), 0).label("input_tokens"),
                            func.coalesce(func.sum(TURNS.c.output_tokens), 0).label(
                                "output_tokens"
                            ),
                            func.coalesce(func.sum(TURNS.c.cost_usd), 0.0).label("cost_usd"),
                        )
                        .where(*where, TURNS.c.model.is_not(None))
                        .group_by(TURNS.c.model)
                        .order_by(TURNS.c.model)
                    )
                )
                .mappings()
                .all()
            )
            course_rows = (
                (
                    await connection.execute(
                        select(TURNS.c.course_id, *_counts_columns())
                        .where(*where)
                        .group_by(TURNS.c.course_id)
                        .order_by(TURNS.c.course_id)
                    )
                )
                .mappings()
                .all()
            )
            overall, daily = await self._percentiles(connection, where, day)

        totals = Totals(
            **_counts(total_row), users=int(total_row["users"] or 0), **overall.get("", {})
        )
        days = [
            DayStats(date=str(r["day"]), **_counts(r), **daily.get(str(r["day"]), {}))
            for r in day_rows
        ]
        models = [
            ModelStats(
                model=str(r["model"]),
                turns=int(r["turns"]),
                input_tokens=int(r["input_tokens"]),
                output_tokens=int(r["output_tokens"]),
                cost_usd=round(float(r["cost_usd"]), 8),
            )
            for r in model_rows
        ]
        courses = [
            CourseStats(
                course_id=r["course_id"],
                questions=int(r["questions"]),
                completed=int(r["completed"] or 0),
                cache_hits=int(r["cache_hits"] or 0),
                not_covered=int(r["not_covered"] or 0),
                cost_usd=round(float(r["cost_usd"] or 0.0), 8),
            )
            for r in course_rows
        ]
        return StatsReport(totals=totals, daily=days, models=models, courses=courses)

    async def _percentiles(
        self, connection: AsyncConnection, where: list[ColumnElement[bool]], day: Any
    ) -> tuple[dict[str, dict[str, Percentiles]], dict[str, dict[str, Percentiles]]]:
        """Latency and first-chunk p50/p95 over the whole range ("" key) and per day."""
        if self._postgres:
            return await self._percentiles_sql(connection, where, day)
        rows = (
            await connection.execute(
                select(day, TURNS.c.latency_ms, TURNS.c.first_chunk_ms).where(
                    *where, TURNS.c.status == "completed"
                )
            )
        ).all()
        latency: dict[str, list[float]] = defaultdict(list)
        first: dict[str, list[float]] = defaultdict(list)
        for row_day, latency_ms, first_ms in rows:
            for key in ("", str(row_day)):
                latency[key].append(float(latency_ms))
                if first_ms is not None:
                    first[key].append(float(first_ms))
        result: dict[str, dict[str, Percentiles]] = {}
        for key, values in latency.items():
            result[key] = {
                "latency_ms": _percentiles(sorted(values)),
                "first_chunk_ms": _percentiles(sorted(first.get(key, []))),
            }
        overall = {"": result.pop("", {})}
        return overall, result

    async def _percentiles_sql(
        self, connection: AsyncConnection, where: list[ColumnElement[bool]], day: Any
    ) -> tuple[dict[str, dict[str, Percentiles]], dict[str, dict[str, Percentiles]]]:
        columns = [
            func.percentile_cont(q).within_group(column).label(f"{name}_{q}")
            for name, column in (("latency", TURNS.c.latency_ms), ("first", TURNS.c.first_chunk_ms))
            for q in QUANTILES
        ]
        completed = [*where, TURNS.c.status == "completed"]
        total = (await connection.execute(select(*columns).where(*completed))).mappings().one()
        per_day = (
            (await connection.execute(select(day, *columns).where(*completed).group_by(day)))
            .mappings()
            .all()
        )

        def pair(row: Any) -> dict[str, Percentiles]:
            def value(name: str) -> float | None:
                raw = row[name]
                return None if raw is None else round(float(raw), 1)

            return {
                "latency_ms": Percentiles(p50=value("latency_0.5"), p95=value("latency_0.95")),
                "first_chunk_ms": Percentiles(p50=value("first_0.5"), p95=value("first_0.95")),
            }

        return {"": pair(total)}, {str(r["day"]): pair(r) for r in per_day}


def _percentiles(values: Iterable[float]) -> Percentiles:
    ordered = list(values)
    return Percentiles(p50=interpolate(ordered, 0.5), p95=interpolate(ordered, 0.95))
