"""Fixtures shared by every test: local pages over HTTP, a real browser session, the artifacts
folder, and a check that no browser or executor process outlives the suite."""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Error as PlaywrightError

from agent.browser.session import BrowserSession
from tests.harness import ARTIFACTS, require_agent_browser, serve_http
from tests.marks import marks_for
from tests.processes import processes_of

PAGES = Path(__file__).parent / "pages"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test by its folder, file and fixtures (``tests/marks.py``)."""
    for item in items:
        test = getattr(item, "originalname", item.name)
        for name in sorted(marks_for(item.path, test, list(getattr(item, "fixturenames", ())))):
            item.add_marker(name)


@pytest.fixture(scope="session")
def site() -> Iterator[str]:
    """``tests/pages`` on an ephemeral 127.0.0.1 port: the site every test folder serves its
    pages as (a folder with pages of its own, such as ``tests/executors/site``, overrides it in
    its conftest; ``serve_http`` is how every one is served)."""
    with serve_http(PAGES) as url:
        yield url


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where tests leave screenshots and reports for a human to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
async def shared_session() -> AsyncIterator[BrowserSession]:
    """One browser per test module: starting Chromium is the slow part of a browser test."""
    browser_session = await BrowserSession.start(action_timeout_s=2.0, navigation_timeout_s=10)
    try:
        yield browser_session
    finally:
        await browser_session.close()


@pytest.fixture
async def session(shared_session: BrowserSession) -> AsyncIterator[BrowserSession]:
    """A real browser session: the module's, reset to a single blank tab after each test.
    (``tests/executors`` overrides it with one whose code workers are warm.)"""
    yield shared_session
    if not shared_session.alive:
        return
    pages = shared_session.tabs
    for extra in pages[1:]:
        await extra.close()
    shared_session.switch_to(pages[0])
    # A navigation the test started (say, to an error page) may land meanwhile and interrupt this
    # one: the next test opens its own page first either way.
    with contextlib.suppress(PlaywrightError):
        await pages[0].goto("about:blank")


@pytest.fixture(scope="session")
def agent_browser() -> Path:
    """The agent-browser binary; a test that uses agent-browser asks for this first (see
    ``require_agent_browser``: skipped locally without it, failed in CI)."""
    return require_agent_browser()


# Every process this test run starts inherits this marker, so the leftover check below finds
# exactly our processes, even ones re-parented to init, and never another run's. A session's
# sandbox starts its processes with a cleared environment: they are found as this process's
# descendants, or by the PID namespace of the sandbox, whose first process keeps the marker.
RUN_MARKER = f"AGENT_TEST_RUN={uuid.uuid4().hex}"
os.environ["AGENT_TEST_RUN"] = RUN_MARKER.split("=", 1)[1]

# What servers keep in their data folder (usage counts) goes to one of this test process's own,
# never to a developer's, and never to another worker's.
_DATA_DIR = tempfile.mkdtemp(prefix="agent-test-data-")
os.environ["AGENT_DATA_DIR"] = _DATA_DIR
atexit.register(shutil.rmtree, _DATA_DIR, True)


def _marked_processes() -> dict[int, str]:
    """Live processes (other than this one) that this run started: pid -> command."""
    return processes_of(*RUN_MARKER.split("=", 1), roots=(os.getpid(),))


@pytest.fixture(scope="session", autouse=True)
def no_leftover_processes() -> Iterator[None]:
    """After the whole suite, no Chromium, node, python or shell process we started, sandboxed or
    not, may remain."""
    yield
    deadline = time.monotonic() + 10
    left = _marked_processes()
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = _marked_processes()
    assert not left, f"processes left behind by the test suite: {left}"
