"""Browsers for eval tasks: a fresh Chromium per task, or a pool of warm ones with a fresh
context per task.

One browser per task is the default and the strictest isolation. A pool (one browser per
parallel job, a new incognito context for each task) isolates cookies, storage and tabs just as
well and saves the second or so a Chromium takes to start, which dominates short tasks; the test
suite uses it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

from agent.browser.launch import BrowserProcess, launch_browser
from agent.browser.session import BrowserSession

__all__ = [
    "ACTION_TIMEOUT_S",
    "NAVIGATION_TIMEOUT_S",
    "BrowserPool",
    "SessionSource",
    "fresh_browser",
]

ACTION_TIMEOUT_S = 5.0
NAVIGATION_TIMEOUT_S = 20.0
VIEWPORT = (1280, 800)


class SessionSource(Protocol):
    """Gives each task a browser session of its own."""

    def session(self) -> AbstractAsyncContextManager[BrowserSession]: ...


class FreshBrowsers:
    """A new Chromium for every task."""

    @asynccontextmanager
    async def session(self) -> AsyncIterator[BrowserSession]:
        session = await BrowserSession.start(
            action_timeout_s=ACTION_TIMEOUT_S, navigation_timeout_s=NAVIGATION_TIMEOUT_S
        )
        try:
            yield session
        finally:
            await session.close()

    async def close(self) -> None:
        pass


def fresh_browser() -> FreshBrowsers:
    return FreshBrowsers()


class BrowserPool:
    """Up to ``size`` warm browsers; each task gets a fresh context in one of them."""

    def __init__(self, size: int) -> None:
        self.size = max(1, size)
        self._idle: asyncio.Queue[BrowserProcess] = asyncio.Queue()
        self._all: list[BrowserProcess] = []
        self._lock = asyncio.Lock()

    async def _take(self) -> BrowserProcess:
        async with self._lock:
            if self._idle.empty() and len(self._all) < self.size:
                browser = await launch_browser(viewport=VIEWPORT)
                self._all.append(browser)
                return browser
        return await self._idle.get()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[BrowserSession]:
        browser = await self._take()
        try:
            context = await browser.browser.new_context(
                viewport={"width": VIEWPORT[0], "height": VIEWPORT[1]}
            )
            page = await context.new_page()
            view = browser.context_view(context, page)
            session = BrowserSession(
                view, action_timeout_s=ACTION_TIMEOUT_S, navigation_timeout_s=NAVIGATION_TIMEOUT_S
            )
            try:
                yield session
            finally:
                await session.close()
        finally:
            self._idle.put_nowait(browser)

    async def close(self) -> None:
        browsers, self._all = self._all, []
        for browser in browsers:
            await browser.close()
