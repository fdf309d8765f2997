"""The chat page and dashboard behind an LMS launch (AUTH_MODE=lti), in real Chromium.

A simulated LMS signs the launch; the tool redirects the browser to `/?ticket=...&course_id=...`;
the page exchanges the one-time ticket for a session, opens its socket with a ticket of its own,
and fetches the course PDF with its bearer token (a plain link would carry no identity).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.integration.test_lti import CONTEXTS, full_launch
from tests.support.auth import INSTRUCTOR, LEARNER, LmsUser, SimulatedLms, running_lms
from tests.support.browser import DESKTOP, watched_page
from tests.support.scripted_openai import Reply, ScriptedOpenAI
from tests.support.tutor import serve_tutor

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def lms() -> Iterator[SimulatedLms]:
    with running_lms() as platform:
        platform.users = {
            "learner": LmsUser("u-100", [LEARNER], "ctx-tik"),
            "teacher": LmsUser("u-200", [INSTRUCTOR], "ctx-tik"),
        }
        yield platform


@pytest.fixture(scope="module")
def lti_tutor(
    sample_index: str,
    scripted_server: ScriptedOpenAI,
    lms: SimulatedLms,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("lti-page")
    platforms = folder / "platforms.yaml"
    platforms.write_text(lms.platform_yaml(CONTEXTS), encoding="utf-8")
    with serve_tutor(
        sample_index, scripted_server, folder, auth_mode="lti", lti_platforms_file=platforms
    ) as (url, _settings):
        yield url


def _launch_url(tutor: str, lms: SimulatedLms, who: str) -> str:
    async def run() -> str:
        async with httpx.AsyncClient(base_url=tutor) as http:
            done = await full_launch(http, lms, who)
        assert done.status_code == 303, done.text
        return done.headers["location"]

    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API holds this thread's event loop
        return pool.submit(asyncio.run, run()).result(timeout=60)


def test_student_launch_chat_and_pdf_with_identity(
    browser: Browser, lti_tutor: str, lms: SimulatedLms, scripted_server: ScriptedOpenAI
) -> None:
    scripted_server.reset()
    scripted_server.script(Reply.from_text("Infrastruktur TI mencakup perangkat keras (hlm. 1)."))
    with watched_page(browser, DESKTOP, locale="en-US") as watched:
        page = watched.page
        page.goto(_launch_url(lti_tutor, lms, "learner"))
        expect(page.locator("#conn")).to_have_attribute("data-state", "open")
        assert "ticket=" not in page.url  # the one-time ticket leaves the address bar
        expect(page.locator("#who")).to_contain_text("lms:u-100")
        select = page.get_by_test_id("course-select")
        expect(select).to_have_value("course_tik_01")
        expect(select.locator("option[value=course_net_en_01]")).to_have_count(0)  # not enrolled
        page.get_by_test_id("question").fill("Apa itu infrastruktur TI?")
        page.get_by_test_id("send").click()
        expect(page.get_by_test_id("answer")).to_contain_text("perangkat keras")
        link = page.get_by_test_id("source").first.locator("a")
        assert "#page=" in (link.get_attribute("href") or "")
        with page.context.expect_page() as popup_info:
            link.click()
        popup = popup_info.value
        popup.wait_for_url(lambda u: u.startswith("blob:"), wait_until="commit")
        assert popup.url.startswith("blob:") and "#page=" in popup.url
        popup.close()
        # a student's dashboard says it is for staff
        page.goto(f"{lti_tutor}/dashboard")
        expect(page.locator("#status")).to_have_text(
            "This dashboard is for lecturers and staff only."
        )
        assert watched.errors == [] or all("403" in e for e in watched.errors), watched.errors


def test_lecturer_launch_opens_the_dashboard(
    browser: Browser, lti_tutor: str, lms: SimulatedLms
) -> None:
    with watched_page(browser, DESKTOP, locale="en-US") as watched:
        page = watched.page
        page.goto(_launch_url(lti_tutor, lms, "teacher"))
        expect(page.locator("#conn")).to_have_attribute("data-state", "open")
        page.goto(f"{lti_tutor}/dashboard?course_id=course_tik_01")  # same tab: same session
        expect(page.locator("body")).to_have_attribute("data-ready", "true")
        expect(page.get_by_test_id("chart")).to_have_count(4)
        assert watched.errors == []


POST_LAUNCH = """(form) => {
  const f = document.createElement('form');
  f.method = 'POST';
  f.action = form.action;
  for (const name of ['id_token', 'state']) {
    const input = document.createElement('input');
    input.type = 'hidden';
    input.name = name;
    input.value = form[name];
    f.appendChild(input);
  }
  document.body.appendChild(f);
  f.submit();
}"""


def _login(page: Page, tutor: str, lms: SimulatedLms) -> dict[str, str]:
    """The browser starts the OIDC login; the simulated LMS answers with the launch form."""
    query = urlencode({"iss": lms.issuer, "login_hint": "learner", "client_id": lms.client_id})
    page.goto(f"{tutor}/lti/login?{query}")
    assert page.url.startswith(f"{lms.url}/authorize")
    form: dict[str, str] = json.loads(page.locator("body").inner_text())
    return form


def test_the_launch_counts_only_in_the_browser_that_logged_in(
    browser: Browser, lti_tutor: str, lms: SimulatedLms
) -> None:
    """Real Chromium keeps the login cookie across the LMS round trip; another browser posting
    the same launch (login CSRF) gets the refusal page."""
    with watched_page(browser, DESKTOP, locale="en-US") as attacker:
        form = _login(attacker.page, lti_tutor, lms)
        with watched_page(browser, DESKTOP, locale="en-US") as victim:
            victim.page.goto(f"{lms.url}/jwks")  # any page of the LMS site
            victim.page.evaluate(POST_LAUNCH, form)
            expect(victim.page.locator("body")).to_contain_text("did not start in this browser")
            assert victim.page.url.endswith("/lti/launch")
    with watched_page(browser, DESKTOP, locale="en-US") as student:
        page = student.page
        form = _login(page, lti_tutor, lms)
        page.evaluate(POST_LAUNCH, form)  # the LMS posts the launch back from its own page
        expect(page.locator("#conn")).to_have_attribute("data-state", "open")
        expect(page.locator("#who")).to_contain_text("lms:u-100")
        assert student.errors == []
