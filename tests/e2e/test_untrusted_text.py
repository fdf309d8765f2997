"""LLM output and PDF text are untrusted: markup in either never runs in the page. Also the
embeddable widget, which shows the same page in an iframe on someone else's site."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from app.main import create_app
from tests.conftest import SettingsFactory
from tests.support.browser import DESKTOP, PHONE, host_page, watched_page
from tests.support.ingest import ingest_paths
from tests.support.live_server import live_server
from tests.support.pdfs import make_pdf
from tests.support.scripted_openai import Reply, ScriptedOpenAI

pytestmark = pytest.mark.integration

COURSE = "course_xss"
PDF_ATTACK = (
    "<img src=x onerror=\"window.__pwned='pdf'\"><script>window.__pwned='pdf-script'</script>"
)
LLM_ATTACK = (
    "Protokol jaringan adalah aturan komunikasi. "
    "<img src=x onerror=\"window.__pwned='llm'\"> "
    "<script>window.__pwned='llm-script'</script> "
    "<a href=\"javascript:window.__pwned='link'\">klik</a> "
    "[tautan](javascript:window.__pwned='md-link') "
    "<iframe srcdoc=\"<script>parent.__pwned='iframe'</script>\"></iframe> "
    "<svg><animate onbegin=\"window.__pwned='svg'\" attributeName=x dur=1s></animate></svg>"
)


@pytest.fixture
def hostile_tutor(
    make_settings: SettingsFactory, scripted_llm: ScriptedOpenAI, tmp_path: Path
) -> Iterator[tuple[str, ScriptedOpenAI]]:
    """A server whose only course has a PDF page full of markup."""
    pdf = make_pdf(
        tmp_path / "courses" / COURSE / "protokol.pdf",
        [
            f"Protokol jaringan adalah aturan komunikasi antar perangkat. {PDF_ATTACK} "
            "TCP dan UDP adalah protokol lapisan transport."
        ],
    )
    settings = make_settings(
        openai_api_base=scripted_llm.base_url,
        openai_model_comprehensive="gpt-4o-mini",
        rag_distance_threshold=1.0,
        stream_flush_interval_ms=0,
    )
    results = ingest_paths(settings, COURSE, [pdf.parent])
    assert [r.action for r in results] == ["added"]
    with live_server(create_app(settings)) as url:
        yield url, scripted_llm


def test_markup_in_answers_and_sources_never_runs(
    browser: Browser, hostile_tutor: tuple[str, ScriptedOpenAI]
) -> None:
    url, llm = hostile_tutor
    llm.script(Reply.from_text(LLM_ATTACK))
    with watched_page(browser, DESKTOP) as watched:
        page = watched.page
        page.goto(f"{url}/?user_id=attacker&course_id={COURSE}")
        expect(page.locator("#conn")).to_have_attribute("data-state", "open")
        page.get_by_test_id("question").fill("Apa itu protokol jaringan?")
        page.get_by_test_id("send").click()
        source = page.get_by_test_id("source").first
        expect(source).to_be_visible()
        page.wait_for_timeout(500)  # give any injected handler the chance to fire
        assert page.evaluate("window.__pwned") is None
        answer = page.get_by_test_id("answer")
        expect(answer).to_contain_text("Protokol jaringan adalah aturan komunikasi")
        # the sanitizer removed every active element and attribute
        for selector in ("img", "script", "iframe", "svg", "[onerror]", "a[href^='javascript']"):
            expect(page.locator(f"[data-testid=answer] {selector}")).to_have_count(0)
        # the PDF's markup is shown as the text it is, never parsed
        expect(source.locator(".snippet")).to_contain_text("<img src=x onerror=")
        expect(page.locator("[data-testid=source] img")).to_have_count(0)
        assert page.evaluate("window.__pwned") is None
        watched.screenshot("xss-attempt")


def test_widget_opens_the_chat_page_in_a_panel(
    browser: Browser, hostile_tutor: tuple[str, ScriptedOpenAI]
) -> None:
    url, llm = hostile_tutor
    llm.script(Reply.from_text("TCP dan UDP adalah protokol lapisan transport."))
    host = (
        '<!doctype html><html><head><meta name="viewport" content="width=device-width"></head>'
        "<body><h1>Course page</h1>"
        f'<script src="{url}/widget.js" data-course="{COURSE}" data-user="widget-student" '
        'data-lang="en"></script></body></html>'
    )
    with host_page(host) as course_site, watched_page(browser, PHONE, is_mobile=True) as watched:
        page = watched.page
        page.goto(course_site)
        launcher = page.get_by_role("button", name="Ask the course tutor")
        launcher.click()
        toggle = page.locator(".launcher")  # found also while hidden (in the widget's shadow DOM)
        expect(toggle).to_have_attribute("aria-expanded", "true")
        expect(toggle).to_be_hidden()  # the panel has the whole phone screen
        frame = page.frame_locator("iframe[title='Ask the course tutor']")
        expect(frame.get_by_test_id("course-select")).to_have_value(COURSE)
        expect(frame.get_by_test_id("send")).to_be_in_viewport()  # the composer fits the panel
        page.evaluate("window.CourseTutor.setPage('protokol', 1)")
        frame.get_by_test_id("question").fill("Protokol apa di lapisan transport?")
        frame.get_by_test_id("send").click()
        expect(frame.get_by_test_id("answer")).to_contain_text("TCP dan UDP")
        expect(frame.get_by_test_id("send")).to_be_in_viewport()  # still, after the answer
        expect(frame.get_by_test_id("source").first.locator("a")).to_have_attribute(
            "href", f"{url}/materials/{COURSE}/protokol.pdf?user_id=widget-student#page=1"
        )
        watched.screenshot("widget-phone")
        page.get_by_role("button", name="Close the tutor").click()
        expect(launcher).to_be_visible()
        expect(launcher).to_have_attribute("aria-expanded", "false")
        assert watched.errors == []
