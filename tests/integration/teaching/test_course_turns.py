"""What the lecturer's pages read and write beyond the other teaching endpoints: a course's recent
answers (``GET /courses/{id}/turns``) and a curated answer from a turn with the lecturer's own
pages; and, with tokens, a student or another course's lecturer gets 403 from every endpoint the
pages use."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Tutor, reset_runtime_state
from tests.integration.teaching.helpers import ANSWER, COURSE, QUESTION, http, one_turn
from tests.support.auth import SECRET, mint
from tests.support.client import ask, connect, recv
from tests.support.scripted_openai import Reply, ScriptedOpenAI
from tests.support.settings import REDIS_URL
from tests.support.tutor import serve_tutor

pytestmark = pytest.mark.integration

OTHER_COURSE = "course_net_en_01"
MATERIAL = "modul_infrastruktur_06"


async def test_recent_answers_of_one_course_with_ratings_and_pages(tutor: Tutor) -> None:
    tutor.llm.default = Reply.from_text(ANSWER)
    ws, _ = await connect(tutor.url, user_id="alice", course_id=COURSE)
    async with ws:
        final = (await ask(ws, QUESTION)).final
        turn_id = final["metadata"]["turn_id"]
        await ws.send(
            json.dumps({"type": "feedback", "turn_id": turn_id, "rating": "up", "comment": "ok"})
        )
        assert (await recv(ws))["type"] == "feedback_ack"
    other = await one_turn(tutor, "What is a network switch?", user="bob", course=OTHER_COURSE)
    with http(tutor) as lecturer:
        listed = lecturer.get(f"/courses/{COURSE}/turns")
        assert listed.status_code == 200, listed.text
        [item] = listed.json()
        assert item["turn_id"] == turn_id and item["question"] == QUESTION
        assert item["answer"] == ANSWER and item["response_source"] == "rag"
        assert (item["upvotes"], item["downvotes"]) == (1, 0)
        assert item["student"] is None  # counts only unless the course opts in
        cited = {
            (s["metadata"]["material_id"], s["metadata"]["page_number"]) for s in final["sources"]
        }
        assert {(p["material_id"], p["page_number"]) for p in item["sources"]} == cited
        assert all(p["page_label"] and p["filename"] for p in item["sources"])
        [foreign] = lecturer.get(f"/courses/{OTHER_COURSE}/turns").json()
        assert foreign["turn_id"] == other["metadata"]["turn_id"]

        lecturer.patch(f"/courses/{COURSE}/teaching-settings", json={"show_student_ids": True})
        assert lecturer.get(f"/courses/{COURSE}/turns").json()[0]["student"] == "alice"
        assert lecturer.get(f"/courses/{COURSE}/turns", params={"limit": 0}).status_code == 422
        past = lecturer.get(
            f"/courses/{COURSE}/turns", params={"from": "2020-01-01", "to": "2020-01-08"}
        )
        assert past.status_code == 200 and past.json() == []

        # the lecturer keeps the turn's words but names the page to read
        made = lecturer.post(
            f"/courses/{COURSE}/answers/from-turn/{turn_id}",
            json={"references": [{"material_id": MATERIAL, "page": 2}]},
        )
        assert made.status_code == 201, made.text
        body = made.json()
        assert body["source_turn_id"] == turn_id and body["question"] == QUESTION
        assert [(r["material_id"], r["page"]) for r in body["references"]] == [(MATERIAL, 2)]
        foreign_turn = lecturer.post(
            f"/courses/{COURSE}/answers/from-turn/{other['metadata']['turn_id']}"
        )
        assert foreign_turn.status_code == 404


@pytest.fixture(scope="module")
def token_server(
    sample_index: str, scripted_server: ScriptedOpenAI, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with serve_tutor(
        sample_index,
        scripted_server,
        tmp_path_factory.mktemp("lecturer-auth"),
        auth_mode="token",
        auth_jwt_secret=SECRET,
        cache_enabled=True,
    ) as (url, _settings):
        try:
            yield url
        finally:
            reset_runtime_state(REDIS_URL, sample_index)


PAGE_CALLS = [
    ("GET", f"/courses/{COURSE}/insights", None),
    ("GET", f"/courses/{COURSE}/digest?format=html", None),
    ("GET", f"/courses/{COURSE}/turns", None),
    ("GET", f"/courses/{COURSE}/answers", None),
    ("PUT", f"/courses/{COURSE}/answers", {"question": "q?", "answer": "a"}),
    ("PATCH", f"/courses/{COURSE}/answers/abc", {"reviewed": True}),
    ("DELETE", f"/courses/{COURSE}/answers/abc", None),
    ("POST", f"/courses/{COURSE}/answers/from-turn/abc", None),
    ("GET", f"/courses/{COURSE}/reviews", None),
    ("POST", f"/courses/{COURSE}/reviews/abc/restore", None),
    ("DELETE", f"/courses/{COURSE}/reviews/abc", None),
    ("GET", f"/courses/{COURSE}/teaching-settings", None),
    ("PATCH", f"/courses/{COURSE}/teaching-settings", {"answer_mode": "guided"}),
]


def _send(url: str, token: str, method: str, path: str, body: object) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.request(method, url + path, json=body, headers=headers, timeout=30)


def test_only_the_courses_staff_may_use_the_lecturer_pages(token_server: str) -> None:
    student = mint("stud-1", courses=[COURSE], role="student")
    other_staff = mint("lect-2", courses=[OTHER_COURSE], role="staff")
    for token in (student, other_staff):
        for method, path, body in PAGE_CALLS:
            response = _send(token_server, token, method, path, body)
            assert response.status_code == 403, (method, path, response.status_code)
    staff = mint("lect-1", courses=[COURSE], role="staff")
    for method, path in (
        ("GET", f"/courses/{COURSE}/turns"),
        ("GET", f"/courses/{COURSE}/reviews"),
    ):
        assert _send(token_server, staff, method, path, None).status_code == 200
    assert (
        _send(token_server, staff, "GET", f"/courses/{OTHER_COURSE}/turns", None).status_code == 403
    )


def test_lecturer_page_is_served_for_its_sections_only(tutor: Tutor) -> None:
    for section in ("insights", "curated", "reviews", "settings"):
        page = httpx.get(f"{tutor.url}/dashboard/{section}")
        assert page.status_code == 200 and "lecturer/main.js" in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
    assert httpx.get(f"{tutor.url}/dashboard/nothing").status_code == 404
    schema = httpx.get(f"{tutor.url}/openapi.json").json()
    listing = schema["paths"]["/courses/{course_id}/turns"]["get"]
    assert listing["summary"] == "A course's recent answers" and "limit" in {
        p["name"] for p in listing["parameters"]
    }
