"""Fixtures for the code executor tests: a local site over HTTP and real browser sessions."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from agent.browser.launch import QUIET_FLAGS, launch_browser
from agent.browser.session import BrowserSession
from agent.executors import warm_up
from tests.harness import serve_http

SITE = Path(__file__).parent / "site"
_NO_BFCACHE = (
    () if "--disable-back-forward-cache" in QUIET_FLAGS else ("--disable-back-forward-cache",)
)


@pytest.fixture(scope="session")
def site() -> Iterator[str]:
    """The test site (``tests/executors/site``) on an ephemeral 127.0.0.1 port."""
    with serve_http(SITE) as url:
        yield url


@pytest.fixture(scope="package")
async def session() -> AsyncIterator[BrowserSession]:
    """One session for the whole folder, with its python and node workers started: it overrides
    ``tests/conftest.py``'s ``session`` because starting the workers is what these tests share,
    and doing it once per folder rather than per module keeps the suite's time down.

    Chromium's back-forward cache is off, as Playwright turns it off when it launches Chromium
    itself: a page restored from it fires no load event, and going back would wait out the
    navigation timeout. (``agent.browser.QUIET_FLAGS`` should carry this flag.)
    """
    browser = await launch_browser(extra_args=_NO_BFCACHE)
    browser_session = BrowserSession(browser, action_timeout_s=2.0)
    await warm_up(browser_session)
    yield browser_session
    await browser_session.close()


@pytest.fixture
async def app(session: BrowserSession, site: str) -> str:
    """The session on a fresh load of the test app page; returns its URL."""
    url = f"{site}/app.html"
    await session.goto(url)
    return url
