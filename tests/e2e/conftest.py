"""One Chromium per test module (starting it costs about a second).

Not per session: Playwright's sync API holds an event loop in the test thread while it runs, and
the async tests that follow need that thread free.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from tests.support.browser import chromium, chromium_available


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not chromium_available():
        pytest.fail("Debian's chromium is missing: run `make install` (tutor-ops system install)")
    with chromium() as instance:
        yield instance
