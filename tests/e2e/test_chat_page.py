"""The student chat page in real headless Chromium against the real server (scripted LLM)."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import Tutor
from tests.support.browser import DESKTOP, PHONE, WatchedPage, watched_page
from tests.support.scripted_openai import Reply

pytestmark = pytest.mark.integration

QUESTION = "Apa itu manajemen infrastruktur TI?"
ANSWER = (
    "**Manajemen infrastruktur TI** adalah kegiatan merencanakan, membangun dan memelihara "
    "perangkat keras, perangkat lunak, jaringan dan pusat data organisasi, sehingga layanan TI "
    "berjalan andal dan aman. Komponennya:\n\n- perangkat keras\n- jaringan\n- pusat data"
)


def _answer_lengths_while_streaming(page: Page, timeout_s: float = 30.0) -> list[int]:
    """Sample the latest answer's text length until its sources appear."""
    lengths: list[int] = []
    deadline = time.monotonic() + timeout_s
    answer = page.get_by_test_id("answer")
    while time.monotonic() < deadline:
        if answer.count():
            lengths.append(len(answer.inner_text()))
        if page.get_by_test_id("source").count():
            break
        page.wait_for_timeout(60)
    return lengths


def _ask_and_follow_source(watched: WatchedPage, tutor: Tutor, name: str, page_word: str) -> None:
    page = watched.page
    tutor.llm.script(Reply.from_text(ANSWER, delay_s=0.06, prompt_tokens=180, completion_tokens=60))
    page.goto(f"{tutor.url}/?user_id=page-student")
    select = page.get_by_test_id("course-select")
    expect(select.locator("option[value=course_tik_01]")).to_have_count(1)
    select.select_option("course_tik_01")
    expect(page.locator("#conn")).to_have_attribute("data-state", "open")
    page.get_by_test_id("question").fill(QUESTION)
    page.get_by_test_id("send").click()
    expect(page.get_by_test_id("stop")).to_be_visible()

    lengths = _answer_lengths_while_streaming(page)
    growing = [n for n in lengths if n > 0]
    # the answer grew in several steps before it was complete
    assert len(set(growing)) >= 3, lengths
    assert growing == sorted(growing), lengths

    answer = page.get_by_test_id("answer")
    expect(answer.locator("strong")).to_have_text("Manajemen infrastruktur TI")  # Markdown
    expect(answer.locator("li")).to_have_count(3)
    expect(answer).to_have_attribute("aria-busy", "false")
    expect(answer).to_have_attribute("aria-live", "polite")
    expect(page.get_by_test_id("stop")).to_be_hidden()

    sources = page.get_by_test_id("source")
    assert sources.count() >= 1
    first = sources.first
    expect(first.get_by_test_id("source-page")).to_contain_text(page_word)
    link = first.locator("a")
    href = link.get_attribute("href") or ""
    assert "#page=" in href and "/materials/course_tik_01/" in href, href
    expect(page.locator(".meta").last).to_contain_text("token")
    watched.screenshot(f"{name}-answer")
    page.evaluate("window.scrollTo(0, 0)")
    watched.screenshot(f"{name}-top")

    # follow the source link: a new tab opens the PDF at that page
    with page.context.expect_page() as popup_info:
        link.click()
    popup = popup_info.value
    popup.wait_for_load_state()
    assert popup.url.endswith(href.split("#", 1)[1]) and "#page=" in popup.url
    pdf = page.request.get(href.split("#", 1)[0])
    assert pdf.status == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF")
    popup.close()


def test_ask_stream_sources_and_pdf_on_desktop(
    browser: Browser, tutor_factory: Callable[..., Tutor]
) -> None:
    tutor = tutor_factory(stream_flush_interval_ms=0, stream_min_chunk_chars=1)
    with watched_page(browser, DESKTOP, locale="id-ID") as watched:
        _ask_and_follow_source(watched, tutor, "chat-desktop", "hlm.")  # Indonesian browser
        # the room now appears in the sidebar, and opening it shows the turn again
        room = watched.page.locator(".room").first
        expect(room).to_contain_text(QUESTION[:20])
        watched.page.get_by_test_id("new-chat").click()
        expect(watched.page.get_by_test_id("answer")).to_have_count(0)
        room.click()
        expect(watched.page.get_by_test_id("answer")).to_contain_text("Manajemen infrastruktur")
        expect(watched.page.get_by_test_id("source").first).to_be_visible()
        # rate the answer: a thumbs-down asks what was wrong, then thanks
        watched.page.get_by_test_id("thumbs-down").click()
        watched.page.get_by_test_id("feedback-comment").fill("Kurang contoh.")
        watched.page.get_by_test_id("feedback-send").click()
        expect(watched.page.get_by_test_id("feedback-thanks")).to_be_visible()
        assert watched.errors == []


def test_stop_button_cancels_and_the_next_question_is_answered(
    browser: Browser, tutor_factory: Callable[..., Tutor]
) -> None:
    tutor = tutor_factory(stream_flush_interval_ms=0, stream_min_chunk_chars=1)
    long_answer = " ".join(f"kata{n}" for n in range(200))
    tutor.llm.script(Reply.from_text(long_answer, delay_s=0.05), Reply.from_text(ANSWER))
    with watched_page(browser, DESKTOP, locale="en-US") as watched:
        page = watched.page
        page.goto(f"{tutor.url}/?user_id=stop-student&course_id=course_tik_01")
        expect(page.locator("#conn")).to_have_attribute("data-state", "open")
        question = page.get_by_test_id("question")
        question.fill(QUESTION)
        question.press("Enter")  # Enter sends, Shift+Enter would add a line
        answer = page.get_by_test_id("answer")
        expect(answer).to_contain_text("kata3")
        page.get_by_test_id("stop").click()
        expect(page.locator("[data-badge=stopped]")).to_be_visible()
        expect(page.get_by_test_id("stop")).to_be_hidden()
        stopped_at = len(answer.inner_text())
        page.wait_for_timeout(500)
        assert len(page.get_by_test_id("answer").inner_text()) == stopped_at  # nothing more came
        assert "kata199" not in answer.inner_text()
        expect(page.locator("#conn")).to_have_attribute("data-state", "open")
        question.fill("Apa saja komponen infrastruktur TI?")
        page.get_by_test_id("send").click()
        expect(page.get_by_test_id("answer")).to_contain_text("Manajemen infrastruktur TI")
        expect(page.get_by_test_id("answer-previous")).to_have_count(1)
        assert watched.errors == []


def test_phone_width_no_horizontal_scroll(
    browser: Browser, tutor_factory: Callable[..., Tutor]
) -> None:
    tutor = tutor_factory(stream_flush_interval_ms=0, stream_min_chunk_chars=1)
    with watched_page(browser, PHONE, is_mobile=True, has_touch=True) as watched:
        _ask_and_follow_source(watched, tutor, "chat-phone", "p.")  # English browser
        page = watched.page
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], width
        assert page.evaluate("document.body.scrollWidth") <= PHONE["width"]
        # the sidebar is a drawer behind the menu button on a phone
        menu = page.locator("#menu")
        expect(menu).to_be_visible()
        menu.click()
        expect(page.get_by_test_id("new-chat")).to_be_in_viewport()
        assert watched.errors == []


CURATED_Q = "Apa perbedaan server fisik dan server virtual?"
CURATED_A = "Server fisik adalah satu mesin; server virtual berbagi mesin lewat hypervisor."


def test_curated_badge_page_context_and_a_downvote_that_takes_an_answer_out_of_the_cache(
    browser: Browser, tutor_factory: Callable[..., Tutor]
) -> None:
    tutor = tutor_factory(stream_flush_interval_ms=0, stream_min_chunk_chars=1)
    curated = {
        "question": CURATED_Q,
        "answer": CURATED_A,
        "references": [{"material_id": "modul_infrastruktur_06", "page": 1}],
    }
    lecturer = {"X-User-Id": "lecturer"}
    saved = httpx.put(f"{tutor.url}/courses/course_tik_01/answers", json=curated, headers=lecturer)
    assert saved.status_code == 201, saved.text
    fresh = "Jawaban baru setelah ditinjau (hal. 3)."
    tutor.llm.script(Reply.from_text(ANSWER), Reply.from_text(fresh))
    opened = "material_id=modul_infrastruktur_06&page=13"  # the page open beside the chat
    with watched_page(browser, DESKTOP, locale="en-US") as watched:
        page = watched.page
        page.goto(f"{tutor.url}/?user_id=page-curious&course_id=course_tik_01&{opened}")
        expect(page.locator("#conn")).to_have_attribute("data-state", "open")
        latest = page.locator("#log > :last-child")

        def ask(question: str) -> None:
            page.get_by_test_id("question").fill(question)
            page.get_by_test_id("send").click()
            expect(page.get_by_test_id("stop")).to_be_hidden()
            expect(latest.get_by_test_id("answer")).to_have_attribute("aria-busy", "false")

        ask("Jelaskan perbedaan antara server fisik dan virtual")
        expect(latest.get_by_test_id("answer")).to_have_text(CURATED_A)
        expect(latest.locator("[data-badge=curated]")).to_have_text("Answer from your lecturer")
        link = latest.get_by_test_id("source").first.locator("a")
        assert "/materials/course_tik_01/modul_infrastruktur_06" in (
            link.get_attribute("href") or ""
        )
        assert (link.get_attribute("href") or "").endswith("#page=1")

        ask(QUESTION)  # the open page ranks first among near-ties
        expect(latest.locator("[data-badge=cached]")).to_have_count(0)
        first = latest.get_by_test_id("source").first.locator("a")
        assert (first.get_attribute("href") or "").endswith("#page=13")

        ask(QUESTION)  # the same question with the same page open: from the cache
        expect(latest.locator("[data-badge=cached]")).to_be_visible()
        latest.get_by_test_id("thumbs-down").click()
        latest.get_by_test_id("feedback-comment").fill("Halamannya salah.")
        latest.get_by_test_id("feedback-send").click()
        expect(latest.get_by_test_id("feedback-thanks")).to_be_visible()

        ask(QUESTION)  # held for review: answered afresh, not from the cache
        expect(latest.get_by_test_id("answer")).to_have_text(fresh)
        expect(latest.locator("[data-badge=cached]")).to_have_count(0)
        watched.screenshot("chat-curated-and-review")
        assert watched.errors == []
    assert len(tutor.llm.chat_requests) == 2
    with httpx.Client(base_url=tutor.url, headers=lecturer) as client:
        [held] = client.get("/courses/course_tik_01/reviews").json()
    assert held["comments"] == ["Halamannya salah."] and held["answer"] == ANSWER


def test_an_answer_the_grounding_check_trimmed_shows_the_checked_text_and_says_so(
    browser: Browser, tutor_factory: Callable[..., Tutor]
) -> None:
    supported = (
        "Manajemen infrastruktur TI adalah kegiatan merencanakan dan memelihara sumber daya TI."
    )
    invented = (
        "Konsep ini dirumuskan oleh Napoleon Bonaparte di Paris pada tahun 1805 bersama Voltaire."
    )
    tutor = tutor_factory(rag_grounding="remove", cache_enabled=False)
    tutor.llm.script(Reply.from_text(f"{supported} {invented}"))
    with watched_page(browser, DESKTOP, locale="en-US") as watched:
        page = watched.page
        page.goto(f"{tutor.url}/?user_id=page-grounding")
        page.get_by_test_id("course-select").select_option("course_tik_01")
        expect(page.locator("#conn")).to_have_attribute("data-state", "open")
        page.get_by_test_id("question").fill(QUESTION)
        page.get_by_test_id("send").click()
        expect(page.locator("[data-badge=revised]")).to_be_visible()
        answer = page.get_by_test_id("answer")
        expect(answer).to_have_text(supported)  # the streamed invented sentence is gone
        assert watched.errors == []
