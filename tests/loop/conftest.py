"""Fixtures for planner tests: the demo site over HTTP, a browser session, settings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from agent.browser.session import BrowserSession
from agent.config import Settings
from tests.harness import serve_http

DEMO_SITE = Path(__file__).resolve().parents[2] / "evals" / "sites" / "demo"


@pytest.fixture(scope="session")
def demo_url() -> Iterator[str]:
    """Base URL (with a trailing slash) of the demo site, served on an ephemeral port."""
    with serve_http(DEMO_SITE) as url:
        yield f"{url}/"


@pytest.fixture(scope="module")
async def shared_session() -> AsyncIterator[BrowserSession]:
    session = await BrowserSession.start(action_timeout_s=3, navigation_timeout_s=10)
    try:
        yield session
    finally:
        await session.close()


@pytest.fixture
async def session(shared_session: BrowserSession) -> AsyncIterator[BrowserSession]:
    """One browser per module, reset to a single blank tab for each test."""
    yield shared_session
    if not shared_session.alive:
        return
    pages = shared_session.tabs
    for extra in pages[1:]:
        await extra.close()
    shared_session.switch_to(pages[0])
    await pages[0].goto("about:blank")


@pytest.fixture
def settings() -> Settings:
    return Settings(max_steps=8, max_snapshot_tokens=2000)
