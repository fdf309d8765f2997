"""The lecturer's pages (/dashboard/insights, /curated, /reviews, /settings) in real headless
Chromium against one real server per module (uvicorn, Redis Stack, SQLite, the scripted LLM):
what a lecturer does on a page changes what the next student gets over /ws/stream."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from app.services.prompt import ANSWER_SYSTEM
from app.teaching.guided_prompt import guided_system_prompt
from tests.conftest import SettingsFactory, reset_runtime_state
from tests.support.auth import SECRET, mint
from tests.support.browser import DESKTOP, PHONE, WatchedPage, watched_page
from tests.support.client import ask, connect, recv
from tests.support.ingest import ingest_paths
from tests.support.pdfs import make_pdf
from tests.support.scripted_openai import Reply, ScriptedOpenAI
from tests.support.settings import REDIS_URL
from tests.support.tutor import serve_tutor

pytestmark = pytest.mark.integration

COURSE = "course_tik_01"
MATERIAL = "modul_infrastruktur_06"
ANSWER = "Pusat data menampung server dan jaringan kampus (hal. 2)."
T = TypeVar("T")

DRAWN = """(canvas) => {
  const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) painted++;
  return painted;
}"""


@pytest.fixture(scope="module")
def server(
    sample_index: str, scripted_server: ScriptedOpenAI, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    reset_runtime_state(REDIS_URL, sample_index)
    with serve_tutor(
        sample_index,
        scripted_server,
        tmp_path_factory.mktemp("lecturer-pages"),
        cache_enabled=True,
        rate_limit_requests=0,
        rate_limit_ip_requests=0,
    ) as (url, _settings):
        try:
            yield url
        finally:
            reset_runtime_state(REDIS_URL, sample_index)


@pytest.fixture
def llm(scripted_server: ScriptedOpenAI) -> Iterator[ScriptedOpenAI]:
    scripted_server.reset()
    scripted_server.default = Reply.from_text(ANSWER)
    yield scripted_server
    scripted_server.reset()


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run socket work off this thread: Playwright's sync API holds its event loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result(timeout=120)


async def turn(
    url: str, question: str, user: str, rating: str | None = None, comment: str | None = None
) -> dict[str, Any]:
    """One question over /ws/stream (and a rating of its answer): the final frame."""
    ws, _ = await connect(url, user_id=user, course_id=COURSE)
    async with ws:
        final = (await ask(ws, question)).final
        assert final["type"] == "chat_response", final
        if rating:
            frame = {"type": "feedback", "turn_id": final["metadata"]["turn_id"], "rating": rating}
            await ws.send(json.dumps({**frame, "comment": comment}))
            assert (await recv(ws))["type"] == "feedback_ack"
    return final


def lecturer(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"X-User-Id": "lecturer"}, timeout=30)


def wait_until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen in time")


def open_section(watched: WatchedPage, url: str, section: str) -> Page:
    page = watched.page
    page.goto(f"{url}/dashboard/{section}?user_id=lecturer&course_id={COURSE}")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.get_by_test_id(f"nav-{section}")).to_have_attribute("aria-current", "page")
    return page


def no_horizontal_scroll(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


CURATED_Q = "Apa perbedaan server fisik dan server virtual?"
PARAPHRASE = "Jelaskan perbedaan antara server fisik dan virtual"
CURATED_A = "Server fisik adalah satu mesin; server virtual berbagi mesin lewat hypervisor."


def test_a_curated_answer_written_on_the_page_answers_a_paraphrase(
    browser: Browser, server: str, llm: ScriptedOpenAI
) -> None:
    with watched_page(browser, PHONE, is_mobile=True, locale="en-US") as watched:
        page = open_section(watched, server, "curated")
        expect(page.get_by_test_id("curated-list")).to_contain_text("No curated answers yet.")
        page.get_by_test_id("curated-question").fill(CURATED_Q)
        page.get_by_test_id("curated-answer").fill(CURATED_A)
        page.get_by_test_id("curated-add-ref").click()
        page.get_by_test_id("ref-material").select_option(MATERIAL)
        page.get_by_test_id("ref-page").fill("999")  # past the material's end: not sent
        page.get_by_test_id("curated-save").click()
        assert page.get_by_test_id("ref-page").evaluate("input => input.validity.rangeOverflow")
        expect(page.get_by_test_id("curated-item")).to_have_count(0)
        page.get_by_test_id("ref-page").fill("1")
        page.get_by_test_id("curated-save").click()
        item = page.get_by_test_id("curated-item")
        expect(item).to_have_count(1)
        expect(item).to_contain_text(CURATED_Q)
        expect(item.get_by_test_id("pdf-link")).to_have_attribute(
            "href", f"{server}/materials/{COURSE}/{MATERIAL}.pdf?user_id=lecturer#page=1"
        )
        expect(page.get_by_test_id("status")).to_have_text("Saved.")
        no_horizontal_scroll(page)
        watched.screenshot("curated-phone", full_page=True)

        final = run(turn(server, PARAPHRASE, "cur-student"))
        assert final["response_source"] == "curated" and final["response"] == CURATED_A
        assert [s["metadata"]["material_id"] for s in final["sources"]] == [MATERIAL]
        assert llm.chat_requests == []  # a curated answer costs no LLM call

        # edit, then delete after confirming
        item.get_by_test_id("curated-edit").click()
        expect(page.get_by_test_id("curated-question")).to_have_value(CURATED_Q)
        page.get_by_test_id("curated-answer").fill(CURATED_A + " Lihat hal. 1.")
        page.get_by_test_id("curated-save").click()
        expect(item).to_contain_text("Lihat hal. 1.")
        item.get_by_test_id("curated-delete").click()
        page.get_by_test_id("confirm-cancel").click()
        expect(item).to_have_count(1)
        item.get_by_test_id("curated-delete").click()
        page.get_by_test_id("confirm-ok").click()
        expect(page.get_by_test_id("curated-item")).to_have_count(0)
        with lecturer(server) as http:
            assert http.get(f"/courses/{COURSE}/answers").json() == []
        assert watched.errors == []


OFF_TOPIC = "Siapa pemenang piala dunia sepak bola tahun 2018?"
COMMENT = "Kurang jelas <b>tebal</b> <img src=x onerror=alert(1)>"
INSIGHT_QUESTIONS = [
    ("Apa itu pusat data?", "ins-1"),
    ("Jelaskan pengertian pusat data", "ins-2"),
    ("Bagaimana cara menghitung kebutuhan bandwidth?", "ins-1"),
    ("Bagaimana menghitung kebutuhan bandwidth jaringan?", "ins-3"),
]


def test_insights_list_a_not_covered_question_and_a_downvote_comment(
    browser: Browser, server: str, llm: ScriptedOpenAI
) -> None:
    async def chat() -> None:
        for question, user in INSIGHT_QUESTIONS:
            await turn(server, question, user)
        await turn(server, "Apa fungsi pusat data bagi kampus?", "ins-2", "down", COMMENT)
        for user in ("ins-1", "ins-3"):
            final = await turn(server, OFF_TOPIC, user)
            assert final["response_source"] == "not_covered"

    run(chat())
    with lecturer(server) as http:

        def recorded() -> bool:
            body = http.get(f"/courses/{COURSE}/insights").json()
            return bool(body["content_gaps"]) and body["totals"]["questions"] >= 7

        wait_until(recorded, "recording the turns")
    with watched_page(browser, {"width": 1100, "height": 900}, locale="en-US") as watched:
        page = open_section(watched, server, "insights")
        gap = page.get_by_test_id("gap").filter(has_text=OFF_TOPIC)
        expect(gap).to_have_count(1)
        expect(gap).to_contain_text("asked 2× by 2 students")
        comment = page.get_by_test_id("downvote-comment")
        expect(comment).to_have_text(f"Comment: {COMMENT}")  # shown as text, never as markup
        assert page.locator("#downvoted b, #downvoted img").count() == 0
        expect(page.get_by_test_id("topic").first).to_be_visible()
        expect(page.get_by_test_id("chart")).to_have_count(1)
        assert page.get_by_test_id("chart").evaluate(DRAWN) > 500, "the topics chart is blank"
        first_page = page.get_by_test_id("top-page").first.get_by_test_id("pdf-link")
        href = first_page.get_attribute("href") or ""
        assert href.startswith(f"{server}/materials/{COURSE}/") and "#page=" in href
        pdf = page.request.get(href.split("#")[0])
        assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
        digest = page.get_by_test_id("digest-html").evaluate("a => a.href")
        assert "format=html" in digest and OFF_TOPIC in page.request.get(digest).text()
        markdown = page.get_by_test_id("digest-markdown").evaluate("a => a.href")
        assert "format=markdown" in markdown and OFF_TOPIC in page.request.get(markdown).text()
        watched.screenshot("insights")
        assert "ins-1" not in page.content()  # students are counts only ...
        expect(page.locator("#students-panel")).to_be_hidden()
        try:
            # ... unless the course opts in on its settings page (reached by keyboard)
            page.get_by_test_id("nav-settings").focus()
            page.keyboard.press("Enter")
            expect(page.get_by_test_id("nav-settings")).to_have_attribute("aria-current", "page")
            expect(page.locator("body")).to_have_attribute("data-ready", "true")
            assert page.evaluate("document.activeElement.id") == "content"
            page.get_by_test_id("show-students").check()
            expect(page.get_by_test_id("status")).to_have_text("Saved.")
            page.get_by_test_id("nav-insights").click()
            expect(page.get_by_test_id("students")).to_contain_text("ins-1")
            assert watched.errors == []
        finally:
            with lecturer(server) as http:
                http.patch(f"/courses/{COURSE}/teaching-settings", json={"show_student_ids": False})
    with watched_page(browser, PHONE, is_mobile=True, locale="id-ID") as watched:
        page = open_section(watched, server, "insights")
        expect(page.get_by_test_id("gap")).to_contain_text(OFF_TOPIC)
        expect(page.locator("#gaps-title")).to_have_text("Tidak tercakup oleh materi")
        no_horizontal_scroll(page)
        assert watched.errors == []


REVIEWED_Q = "Apa saja komponen utama infrastruktur TI?"


def test_the_review_queue_restores_a_held_answer(
    browser: Browser, server: str, llm: ScriptedOpenAI
) -> None:
    llm.script(Reply.from_text("Komponennya perangkat keras, jaringan dan pusat data (hal. 2)."))
    run(turn(server, REVIEWED_Q, "rev-1", "down", "Halamannya salah"))
    with watched_page(browser, PHONE, is_mobile=True, locale="en-US") as watched:
        page = open_section(watched, server, "reviews")
        item = page.get_by_test_id("review-item").filter(has_text=REVIEWED_Q)
        expect(item).to_have_count(1)
        expect(item.get_by_test_id("review-comment")).to_have_text("Comment: Halamannya salah")
        no_horizontal_scroll(page)
        watched.screenshot("reviews-phone", full_page=True)
        # "Correct it" opens the curated form on the held answer, without saving anything
        item.get_by_test_id("review-correct").click()
        expect(page).to_have_url(re.compile(rf"/dashboard/curated\?course_id={COURSE}&"))
        expect(page.get_by_test_id("curated-question")).to_have_value(REVIEWED_Q)
        expect(page.get_by_test_id("curated-answer")).to_have_value(re.compile("perangkat keras"))
        expect(page.get_by_test_id("curated-origin")).to_contain_text("review queue")
        page.go_back()
        expect(page.get_by_test_id("nav-reviews")).to_have_attribute("aria-current", "page")
        expect(item).to_have_count(1)
        item.get_by_test_id("review-restore").click()
        expect(item).to_have_count(0)
        expect(page.get_by_test_id("status")).to_have_text("The answer is back in the cache.")
        assert watched.errors == []
    again = run(turn(server, REVIEWED_Q, "rev-2"))
    assert again["cached"] is True and "perangkat keras" in again["response"]
    assert len(llm.chat_requests) == 1


DIRECT_Q = "Apa saja tingkatan tier pada pusat data?"
GUIDED_Q = "Apa tujuan perencanaan kapasitas infrastruktur TI?"


def test_settings_switch_guided_mode_for_the_next_turn(
    browser: Browser, server: str, llm: ScriptedOpenAI
) -> None:
    try:
        with watched_page(browser, PHONE, is_mobile=True, locale="en-US") as watched:
            page = open_section(watched, server, "settings")
            llm.script(
                Reply.from_text("Perencanaan kapasitas memastikan sumber daya cukup (hal. 4).")
            )
            direct = run(turn(server, DIRECT_Q, "set-0"))
            assert direct["response_source"] == "rag"
            assert str(llm.chat_requests[-1]["messages"][0]["content"]).startswith(
                ANSWER_SYSTEM[:60]
            )
            effective = page.get_by_test_id("course-mode-effective")
            expect(effective).to_have_text("In effect now: direct")
            expect(page.get_by_test_id("material-mode-row")).to_have_count(2)
            page.get_by_test_id("course-mode").select_option("guided")
            expect(effective).to_have_text("In effect now: guided")
            no_horizontal_scroll(page)
            watched.screenshot("settings-phone", full_page=True)
            assert watched.errors == []
        llm.script(Reply.from_text("Petunjuk: baca bagian kapasitas.\nBaca: hal. 4"))
        run(turn(server, GUIDED_Q, "set-1"))
        assert len(llm.chat_requests) == 2  # the direct turn above, then this one
        assert llm.chat_requests[-1]["messages"][0]["content"] == guided_system_prompt("id")

        with watched_page(browser, DESKTOP, locale="en-US") as watched:
            page = open_section(watched, server, "settings")
            page.get_by_test_id("course-mode").select_option("")  # back to course.yaml
            expect(page.get_by_test_id("course-mode-effective")).to_have_text(
                "In effect now: direct"
            )
            row = page.get_by_test_id("material-mode-row").filter(has_text="Modul 7")
            row.get_by_test_id("material-mode").select_option("guided")
            expect(row).to_contain_text("In effect now: guided")
            assert watched.errors == []
        with lecturer(server) as http:
            settings = http.get(f"/courses/{COURSE}/teaching-settings").json()
        assert settings["answer_mode"]["override"] is None
        assert {m["material_id"]: m["override"] for m in settings["materials"]} == {
            "modul_perencanaan_07": "guided"
        }
    finally:
        with lecturer(server) as http:
            http.patch(
                f"/courses/{COURSE}/teaching-settings",
                json={"answer_mode": None, "material_modes": {"modul_perencanaan_07": None}},
            )


GOOD_Q = "Apa itu manajemen infrastruktur TI?"
GOOD_A = "Manajemen infrastruktur TI merencanakan dan memelihara sumber daya TI (hal. 1)."


def test_a_good_answer_becomes_a_curated_one(
    browser: Browser, server: str, llm: ScriptedOpenAI
) -> None:
    llm.script(Reply.from_text(GOOD_A))
    final = run(turn(server, GOOD_Q, "good-1", "up"))
    turn_id = final["metadata"]["turn_id"]
    cited = []
    for source in final["sources"]:
        meta = source["metadata"]
        if (meta["material_id"], str(meta["page_number"])) not in cited:
            cited.append((meta["material_id"], str(meta["page_number"])))
    with watched_page(browser, DESKTOP, locale="en-US") as watched:
        page = open_section(watched, server, "curated")
        recent = page.locator(f'[data-testid="recent-answer"][data-turn-id="{turn_id}"]')
        expect(recent).to_contain_text(GOOD_Q)
        expect(recent).to_contain_text("1 up / 0 down")
        recent.get_by_test_id("make-curated").click()
        expect(page.get_by_test_id("curated-question")).to_have_value(GOOD_Q)
        expect(page.get_by_test_id("curated-answer")).to_have_value(GOOD_A)
        refs = page.get_by_test_id("ref")
        expect(refs).to_have_count(len(cited))
        shown = [
            (
                refs.nth(i).get_by_test_id("ref-material").input_value(),
                refs.nth(i).get_by_test_id("ref-page").input_value(),
            )
            for i in range(len(cited))
        ]
        assert shown == cited
        watched.screenshot("curated-from-turn", full_page=True)
        page.get_by_test_id("curated-answer").fill(GOOD_A + " Baca juga hal. 2.")
        page.get_by_test_id("curated-save").click()
        expect(page.get_by_test_id("curated-item")).to_contain_text("Baca juga hal. 2.")
        assert watched.errors == []
    with lecturer(server) as http:
        [made] = http.get(f"/courses/{COURSE}/answers").json()
        assert made["source_turn_id"] == turn_id and made["question"] == GOOD_Q
        assert [(r["material_id"], str(r["page"])) for r in made["references"]] == cited
        http.delete(f"/courses/{COURSE}/answers/{made['id']}")


def _signed_in(token: str, user: str, role: str) -> str:
    """What the page keeps for this tab after an LMS launch (identity.js), set before it loads."""
    session = {"token": token, "userId": user, "role": role, "expiresAt": 4102444800000}
    return f"sessionStorage.setItem('tutor.session', {json.dumps(json.dumps(session))});"


def test_with_tokens_the_pages_use_the_bearer_and_flag_changed_material(
    browser: Browser,
    scripted_server: ScriptedOpenAI,
    make_settings: SettingsFactory,
    prefix: str,
    tmp_path: Path,
) -> None:
    folder = tmp_path / "kursus"
    make_pdf(
        folder / "modul.pdf", ["Server virtual berjalan di atas hypervisor. " * 8, "Dua. " * 8]
    )
    ingest_paths(make_settings(), "kursus", [folder])
    with serve_tutor(
        prefix, scripted_server, tmp_path, auth_mode="token", auth_jwt_secret=SECRET
    ) as (url, _settings):
        staff = mint("dosen-1", courses=["kursus"], role="staff")
        body = {
            "question": CURATED_Q,
            "answer": CURATED_A,
            "references": [{"material_id": "modul"}],
        }
        headers = {"Authorization": f"Bearer {staff}"}
        assert httpx.put(f"{url}/courses/kursus/answers", json=body, headers=headers).is_success
        make_pdf(folder / "modul.pdf", ["Isi baru modul. " * 8, "Halaman dua baru. " * 8])
        ingest_paths(make_settings(), "kursus", [folder])  # the material changed under the answer

        with watched_page(browser, PHONE, is_mobile=True, locale="en-US") as watched:
            page = watched.page
            page.add_init_script(_signed_in(staff, "dosen-1", "staff"))
            page.goto(f"{url}/dashboard/curated")  # no user id anywhere: the bearer says who
            expect(page.locator("body")).to_have_attribute("data-ready", "true")
            item = page.get_by_test_id("curated-item")
            expect(item).to_have_attribute("data-status", "needs_review")
            expect(item.get_by_test_id("needs-review")).to_contain_text("'modul' was changed")
            item.get_by_test_id("curated-reviewed").click()
            expect(item).to_have_attribute("data-status", "active")
            expect(item.get_by_test_id("needs-review")).to_have_count(0)
            no_horizontal_scroll(page)
            assert watched.errors == []
        [answer] = httpx.get(f"{url}/courses/kursus/answers", headers=headers).json()
        assert answer["status"] == "active" and answer["updated_by"] == "dosen-1"

        student = mint("mhs-1", courses=["kursus"], role="student")
        with watched_page(browser, DESKTOP, locale="en-US") as watched:
            page = watched.page
            page.add_init_script(_signed_in(student, "mhs-1", "student"))
            page.goto(f"{url}/dashboard/reviews?course_id=kursus")
            expect(page.get_by_test_id("status")).to_have_text(
                "This dashboard is for lecturers and staff only."
            )
            expect(page.get_by_test_id("review-item")).to_have_count(0)
