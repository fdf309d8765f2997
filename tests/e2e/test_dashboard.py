"""The lecturer dashboard in real headless Chromium: numbers from real turns, charts drawn."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.sync_api import Browser, expect

from app.db.engine import create_engine
from app.db.records import TurnRecord
from app.db.repository import ChatRepository
from tests.conftest import Tutor
from tests.support.browser import DESKTOP, PHONE, watched_page
from tests.support.client import ask, connect
from tests.support.scripted_openai import Reply

pytestmark = pytest.mark.integration

QUESTIONS = [
    "Apa itu manajemen infrastruktur TI?",
    "Apa saja komponen utama infrastruktur TI?",
    "Apa itu manajemen infrastruktur TI?",  # the same again: a cache hit
]

DRAWN = """(canvas) => {
  const { width, height } = canvas;
  const pixels = canvas.getContext('2d').getImageData(0, 0, width, height).data;
  let painted = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) painted++;
  return painted;
}"""


async def _seed(tutor: Tutor) -> None:
    tutor.llm.script(
        Reply.from_text("Manajemen infrastruktur TI merencanakan sumber daya TI (hlm. 1)."),
        Reply.from_text("Komponennya perangkat keras, jaringan dan pusat data (hlm. 2)."),
    )
    ws, _ = await connect(tutor.url, user_id="dash-student", course_id="course_tik_01")
    try:
        for question in QUESTIONS:
            turn = await ask(ws, question)
            assert turn.final["type"] == "chat_response", turn.final
    finally:
        await ws.close()


async def _earlier_days(tutor: Tutor) -> None:
    """Two turns a day on the six days before today (one from the cache), written to the
    server's own database, so the charts have a history to draw."""
    engine = create_engine(tutor.settings.resolved_database_url, 10.0)
    repository = ChatRepository(engine, 10.0)
    today = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
    try:
        for day in range(1, 7):
            for n, cached in enumerate((False, True)):
                await repository.record_turn(
                    TurnRecord(
                        user_id=f"hist-{day % 3}",
                        course_id="course_tik_01",
                        query=f"Pertanyaan {day}-{n}",
                        answer="Jawaban.",
                        response_source="cache" if cached else "rag",
                        cached=cached,
                        model="gpt-4o-mini",
                        input_tokens=400 + 20 * day,
                        output_tokens=80,
                        total_tokens=480 + 20 * day,
                        cost_usd=0.0001,
                        latency_ms=(30.0 if cached else 1500.0 + 100 * day),
                        first_chunk_ms=(25.0 if cached else 600.0 + 50 * day),
                        created_at=today - timedelta(days=day, minutes=n),
                    )
                )
    finally:
        await engine.dispose()


def _wait_for_records(tutor: Tutor, expected: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        stats = httpx.get(
            f"{tutor.url}/api/stats",
            params={"course_id": "course_tik_01"},
            headers={"X-User-Id": "lecturer"},
        ).json()
        if stats["totals"]["questions"] >= expected:
            return
        time.sleep(0.1)
    raise AssertionError("the turns were not recorded in time")


def test_dashboard_draws_charts_from_real_turns(
    browser: Browser, tutor_factory: Callable[..., Tutor]
) -> None:
    tutor = tutor_factory()
    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API holds this thread's event loop
        pool.submit(asyncio.run, _seed(tutor)).result(timeout=120)
        _wait_for_records(tutor, len(QUESTIONS))
        pool.submit(asyncio.run, _earlier_days(tutor)).result(timeout=60)
    with watched_page(browser, DESKTOP, locale="en-US") as watched:
        page = watched.page
        page.goto(f"{tutor.url}/dashboard?user_id=lecturer&course_id=course_tik_01")
        expect(page.locator("body")).to_have_attribute("data-ready", "true")
        charts = page.get_by_test_id("chart")
        expect(charts).to_have_count(4)
        for index in range(4):
            assert charts.nth(index).evaluate(DRAWN) > 500, f"chart {index} is blank"
        expect(page.get_by_test_id("total-questions")).to_have_text("Questions15")  # 3 + 6 x 2
        expect(page.get_by_test_id("cache-hit-rate")).to_contain_text("46.7%")  # 7 of 15
        expect(page.locator("#models-table")).to_contain_text("gpt-4o-mini")
        csv = page.request.get(page.get_by_test_id("csv-daily").evaluate("a => a.href"))
        assert csv.status == 200 and csv.headers["content-type"].startswith("text/csv")
        days = csv.text().strip().splitlines()
        assert days[0].startswith("date,questions,completed") and len(days) == 1 + 7
        assert days[-1].split(",")[1:3] == ["3", "3"]  # today: the three real questions
        watched.screenshot("dashboard-desktop", full_page=True)
        assert watched.errors == []
    with watched_page(browser, PHONE, is_mobile=True) as watched:
        page = watched.page
        page.goto(f"{tutor.url}/dashboard?user_id=lecturer")
        expect(page.locator("body")).to_have_attribute("data-ready", "true")
        expect(page.get_by_test_id("chart")).to_have_count(4)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert watched.errors == []
