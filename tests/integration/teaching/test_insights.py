"""Course insights and the weekly digest through the real server, on SQLite and PostgreSQL, with a
real SMTP server (aiosmtpd) receiving the digest."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from tests.conftest import Tutor
from tests.integration.teaching.helpers import ANSWER, COURSE, http, one_turn
from tests.support.client import ask, connect, recv
from tests.support.databases import fresh_database
from tests.support.scripted_openai import Reply

pytestmark = pytest.mark.integration

OFF_TOPIC = "Siapa pemenang piala dunia sepak bola tahun 2018?"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[int, Inbox]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


async def _chat(tutor: Tutor) -> str:
    """Four questions of three students: two answered, one gap asked twice; one downvote."""
    tutor.llm.default = Reply.from_text(ANSWER)
    await one_turn(tutor, "Apa itu manajemen infrastruktur TI?", user="student-alpha")
    ws, _ = await connect(tutor.url, user_id="student-beta", course_id=COURSE)
    async with ws:
        final = (await ask(ws, "Jelaskan pengertian manajemen infrastruktur TI")).final
        turn_id = final["metadata"]["turn_id"]
        await ws.send(
            json.dumps(
                {
                    "type": "feedback",
                    "turn_id": turn_id,
                    "rating": "down",
                    "comment": "Kurang jelas <b>",
                }
            )
        )
        assert (await recv(ws))["type"] == "feedback_ack"
    for user in ("student-alpha", "student-gamma"):
        assert (await one_turn(tutor, OFF_TOPIC, user=user))["response_source"] == "not_covered"
    return str(turn_id)


async def _recorded(
    lecturer: httpx.Client, questions: int, seconds: float = 15.0
) -> httpx.Response:
    """The course's insights once its last turns are stored: a turn record reaches the database
    after its ``chat_response`` is sent (in the background, through the outbox when slow)."""
    deadline = time.monotonic() + seconds
    while True:
        response = await asyncio.to_thread(lecturer.get, f"/courses/{COURSE}/insights")
        assert response.status_code == 200, response.text
        if response.json()["totals"]["questions"] >= questions or time.monotonic() > deadline:
            return response
        await asyncio.sleep(0.2)


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
async def test_insights_list_topics_gaps_downvotes_and_pages(
    backend: str, tutor_factory: Callable[..., Tutor], tmp_path: Path
) -> None:
    async with fresh_database(backend, tmp_path) as url:
        tutor = tutor_factory(database_url=url)
        downvoted = await _chat(tutor)
        with http(tutor) as lecturer:
            response = await _recorded(lecturer, questions=4)
            insights = response.json()
            assert "student-" not in response.text  # counts, not names
            totals = insights["totals"]
            assert totals["questions"] == 4 and totals["students"] == 3
            assert totals["answered"] == 2 and totals["not_covered"] == 2
            assert totals["downvotes"] == 1 and totals["upvotes"] == 0
            [gap] = insights["content_gaps"]
            assert gap["question"] == OFF_TOPIC and gap["count"] == 2 and gap["students"] == 2
            [down] = insights["downvoted"]
            assert down["turn_id"] == downvoted and down["comment"] == "Kurang jelas <b>"
            assert down["student"] is None and down["answer"] == ANSWER
            [topic] = [
                t
                for t in insights["topics"]
                if t["questions"] == 2 and "manajemen" in t["keywords"]
            ]
            assert topic["students"] == 2 and len(topic["examples"]) == 2
            assert insights["top_pages"] and insights["top_pages"][0]["citations"] >= 1
            assert insights["top_pages"][0]["material_id"].startswith("modul_")
            assert insights["students"] is None

            opted = lecturer.patch(
                f"/courses/{COURSE}/teaching-settings", json={"show_student_ids": True}
            )
            assert opted.json()["show_student_ids"] is True
            named = lecturer.get(f"/courses/{COURSE}/insights").json()
            assert {s["student"] for s in named["students"]} == {
                "student-alpha",
                "student-beta",
                "student-gamma",
            }
            assert named["downvoted"][0]["student"] == "student-beta"
            lecturer.patch(f"/courses/{COURSE}/teaching-settings", json={"show_student_ids": False})

            future = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
            later = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
            empty = lecturer.get(
                f"/courses/{COURSE}/insights", params={"from": future, "to": later}
            )
            assert empty.json()["totals"]["questions"] == 0 and empty.json()["topics"] == []
            backwards = lecturer.get(
                f"/courses/{COURSE}/insights", params={"from": later, "to": future}
            )
            assert backwards.status_code == 422
            assert (
                lecturer.get(f"/courses/{COURSE}/insights", params={"from": "soon"}).status_code
                == 422
            )

            markdown = lecturer.get(f"/courses/{COURSE}/digest")
            assert markdown.headers["content-type"].startswith("text/markdown")
            assert OFF_TOPIC in markdown.text and "Kurang jelas <b>" not in markdown.text
            page = lecturer.get(f"/courses/{COURSE}/digest", params={"format": "html"})
            assert page.headers["content-type"].startswith("text/html")
            assert "Kurang jelas &lt;b&gt;" in page.text
            assert lecturer.post(f"/courses/{COURSE}/digest/send").status_code == 409


async def test_weekly_digest_is_mailed_once_per_week(
    tutor_factory: Callable[..., Tutor], smtp: tuple[int, Inbox]
) -> None:
    port, inbox = smtp
    now = datetime.now(UTC)
    tutor = tutor_factory(
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_security="none",
        smtp_from="tutor@kampus.example",
        digest_weekday=now.weekday(),
        digest_hour_utc=0,
        digest_check_seconds=0.2,
    )
    await _chat(tutor)
    with http(tutor) as lecturer:
        assert lecturer.post(f"/courses/{COURSE}/digest/send").status_code == 409  # no recipients
        settings = lecturer.patch(
            f"/courses/{COURSE}/teaching-settings",
            json={"digest_recipients": ["dosen@kampus.example"]},
        )
        assert settings.json()["digest_recipients"] == ["dosen@kampus.example"]
        bad = lecturer.patch(
            f"/courses/{COURSE}/teaching-settings", json={"digest_recipients": ["x"]}
        )
        assert bad.status_code == 422
        deadline = time.monotonic() + 15
        while not inbox.messages and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # several more checks: still one mail for this week's slot
        [weekly] = inbox.messages
        assert weekly["To"] == "dosen@kampus.example" and COURSE in weekly["Subject"]
        assert weekly["From"] == "tutor@kampus.example"
        kinds = [part.get_content_type() for part in weekly.walk() if not part.is_multipart()]
        assert kinds == ["text/plain", "text/html"]

        sent = lecturer.post(
            f"/courses/{COURSE}/digest/send", json={"recipients": ["ketua@kampus.example"]}
        )
        assert sent.status_code == 200 and sent.json()["sent_to"] == ["ketua@kampus.example"]
    assert len(inbox.messages) == 2 and inbox.messages[1]["To"] == "ketua@kampus.example"
    body = inbox.messages[1].get_payload()[0].get_payload(decode=True).decode()
    assert OFF_TOPIC in body and "(2×, 2 students)" in body
