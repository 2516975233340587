"""Fixtures for the code executor tests: a local site over HTTP and real browser sessions."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from agent.browser.launch import QUIET_FLAGS, launch_browser
from agent.browser.session import BrowserSession
from agent.executors import warm_up

SITE = Path(__file__).parent / "site"
_NO_BFCACHE = (
    () if "--disable-back-forward-cache" in QUIET_FLAGS else ("--disable-back-forward-cache",)
)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def site_url() -> Iterator[str]:
    """The test site (``tests/executors/site``) on an ephemeral 127.0.0.1 port."""
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="package")
async def session() -> AsyncIterator[BrowserSession]:
    """One session for these tests, with its python and node workers started.

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
async def app(session: BrowserSession, site_url: str) -> str:
    """The session on a fresh load of the test app page; returns its URL."""
    url = f"{site_url}/app.html"
    await session.goto(url)
    return url
