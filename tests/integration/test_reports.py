"""Dashboard numbers and room history over real SQLite and PostgreSQL turn records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.reports import ReportQuery, TurnReports, interpolate
from app.db.repository import ChatRepository
from app.db.rooms import RoomReader
from tests.integration.db_fixtures import TIMEOUT_S, db_engine, repository
from tests.integration.test_db import make_turn

pytestmark = pytest.mark.integration
__all__ = ["db_engine", "repository"]

DAY1 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)


def _turn(n: int, **overrides: Any) -> Any:
    values: dict[str, Any] = {"id": f"turn{n:03d}", "chatroom_id": None}
    values.update(overrides)
    return make_turn(**values)


async def _seed(repository: ChatRepository) -> None:
    latencies = [100.0, 200.0, 300.0, 400.0, 1000.0]
    for n, latency in enumerate(latencies):
        await repository.record_turn(
            _turn(
                n,
                created_at=DAY1 + timedelta(minutes=n),
                latency_ms=latency,
                first_chunk_ms=latency / 10,
                cached=n == 0,
                response_source="cache" if n == 0 else "rag",
                user_id=f"s{n % 2}",
            )
        )
    # day 2: one not covered, one failed, one in another course, one gpt-4o-nano
    await repository.record_turn(
        _turn(
            10,
            created_at=DAY2,
            response_source="not_covered",
            model=None,
            latency_ms=50.0,
            input_tokens=0,
            output_tokens=0,
            total_tokens=0,
            cost_usd=0.0,
        )
    )
    await repository.record_turn(
        _turn(
            11,
            created_at=DAY2,
            status="failed",
            latency_ms=9000.0,
            error_code="SERVICE_UNAVAILABLE",
        )
    )
    await repository.record_turn(_turn(12, created_at=DAY2, course_id="course_net_en_01"))
    await repository.record_turn(
        _turn(
            13,
            created_at=DAY2,
            model="gpt-4o-nano",
            cost_usd=0.00001,
            latency_ms=500.0,
            first_chunk_ms=None,
        )
    )
    # outside the range
    await repository.record_turn(_turn(20, created_at=DAY1 - timedelta(days=3)))


def _query(courses: frozenset[str] | None = frozenset({"course_tik_01"})) -> ReportQuery:
    return ReportQuery(
        start=DAY1.replace(hour=0), end=DAY2.replace(hour=0) + timedelta(days=1), course_ids=courses
    )


def test_interpolation_matches_percentile_cont() -> None:
    assert interpolate([], 0.5) is None
    assert interpolate([7.0], 0.95) == 7.0
    assert interpolate([100.0, 200.0, 300.0, 400.0, 1000.0], 0.5) == 300.0
    assert interpolate([100.0, 200.0, 300.0, 400.0, 1000.0], 0.95) == 880.0  # 400 + 0.8 * 600


async def test_report_per_course(repository: ChatRepository, db_engine: AsyncEngine) -> None:
    await _seed(repository)
    report = await TurnReports(db_engine, TIMEOUT_S).report(_query())
    totals = report.totals
    assert totals.questions == 8  # 5 + not covered + failed + nano; not the other course
    assert (totals.completed, totals.failed, totals.cache_hits, totals.not_covered) == (7, 1, 1, 1)
    assert totals.cache_hit_rate == round(1 / 7, 4) and totals.not_covered_rate == round(1 / 7, 4)
    assert totals.users == 3  # s0, s1 and alice (day 2)
    # completed latencies: 50, 100, 200, 300, 400, 500, 1000 (the failed 9000 is left out)
    assert totals.latency_ms.p50 == 300.0
    assert totals.latency_ms.p95 == 850.0  # 500 + 0.7 * 500
    # first chunk: 10, 20, 30, 40, 100 (the two without one are left out)
    assert totals.first_chunk_ms.p50 == 30.0
    assert [d.date for d in report.daily] == ["2026-03-02", "2026-03-03"]
    day1, day2 = report.daily
    assert (day1.questions, day1.cache_hits, day1.latency_ms.p50) == (5, 1, 300.0)
    assert (day2.questions, day2.not_covered, day2.failed) == (3, 1, 1)
    assert day2.latency_ms.p50 == 275.0 and day2.first_chunk_ms.p50 is None
    models = {m.model: m for m in report.models}
    assert set(models) == {"gpt-4o-mini", "gpt-4o-nano"}
    assert models["gpt-4o-mini"].turns == 6 and models["gpt-4o-mini"].input_tokens == 720
    assert models["gpt-4o-nano"].cost_usd == pytest.approx(0.00001)
    assert [c.course_id for c in report.courses] == ["course_tik_01"]


async def test_report_over_all_courses(repository: ChatRepository, db_engine: AsyncEngine) -> None:
    await _seed(repository)
    report = await TurnReports(db_engine, TIMEOUT_S).report(_query(None))
    assert report.totals.questions == 9
    assert {c.course_id: c.questions for c in report.courses} == {
        "course_net_en_01": 1,
        "course_tik_01": 8,
    }
    empty = await TurnReports(db_engine, TIMEOUT_S).report(_query(frozenset()))
    assert empty.totals.questions == 0 and empty.daily == [] and empty.totals.latency_ms.p50 is None


async def test_rooms_are_per_user(repository: ChatRepository, db_engine: AsyncEngine) -> None:
    await repository.record_turn(
        make_turn(id="a1", chatroom_id="r1", query="Apa itu VLAN?", created_at=DAY1)
    )
    await repository.record_turn(
        make_turn(id="a2", chatroom_id="r1", query="Lalu subnet?", created_at=DAY2)
    )
    await repository.record_turn(
        make_turn(id="a3", chatroom_id="r2", query="Pusat data?", created_at=DAY1, course_id="c2")
    )
    await repository.record_turn(
        make_turn(id="b1", user_id="bob", chatroom_id="r1", query="Bob's question", created_at=DAY2)
    )
    reader = RoomReader(db_engine, TIMEOUT_S)
    rooms = await reader.rooms("alice")
    assert [r.chatroom_id for r in rooms] == ["r1", "r2"]  # most recent activity first
    assert rooms[0].title == "Apa itu VLAN?" and rooms[0].turns == 2
    assert rooms[0].last_activity == DAY2
    assert [r.chatroom_id for r in await reader.rooms("alice", "c2")] == ["r2"]
    turns = await reader.turns("alice", "r1")
    assert turns is not None and [t.turn_id for t in turns] == ["a1", "a2"]
    assert turns[0].sources and turns[0].created_at == DAY1
    bob = await reader.turns("bob", "r1")
    assert bob is not None and [t.query for t in bob] == ["Bob's question"]  # never alice's
    assert await reader.turns("bob", "r2") is None
    assert await reader.rooms("nobody") == []
