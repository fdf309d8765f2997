"""One Chromium for the browser tests of a session (starting it costs about a second)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from tests.support.browser import chromium, chromium_available


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not chromium_available():
        pytest.fail("Debian's chromium is missing: run `make install` (tutor-ops system install)")
    with chromium() as instance:
        yield instance
