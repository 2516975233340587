"""Browsers started ahead of need, so a scrape does not wait for Chromium to start.

Starting Chromium takes one to several seconds, most of a scrape of a simple page. The pool keeps
up to ``size`` started browsers in reserve and starts a replacement in the background whenever
one is taken; with ``size`` 0 every scrape starts its own browser.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable

from agent.browser.session import BrowserSession

__all__ = ["LAUNCH_CONCURRENCY", "BrowserPool"]

log = logging.getLogger(__name__)

LAUNCH_CONCURRENCY = max(2, os.cpu_count() or 2)
"""Browsers started at once. Starting Chromium is CPU-bound: fifty at once on two cores each
take so long that they miss their start-up timeout, while a few at a time all start."""


class BrowserPool:
    """Hands out started browsers, keeping ``size`` more ready in the background."""

    def __init__(self, factory: Callable[[], Awaitable[BrowserSession]], size: int) -> None:
        self._factory = factory
        self.size = size
        self._ready: list[BrowserSession] = []
        self._starting: set[asyncio.Task[None]] = set()
        self._closed = False
        self._launching = asyncio.Semaphore(LAUNCH_CONCURRENCY)

    async def _launch(self) -> BrowserSession:
        async with self._launching:
            return await self._factory()

    @property
    def ready(self) -> int:
        return len(self._ready)

    async def take(self) -> BrowserSession:
        """A started browser: a reserved one when one is ready and alive, else a new one."""
        browser: BrowserSession | None = None
        while self._ready and browser is None:
            candidate = self._ready.pop()
            if candidate.alive:
                browser = candidate
            else:
                await candidate.close()
        self.refill()
        if browser is None:
            browser = await self._launch()
        return browser

    def refill(self) -> None:
        """Start browsers in the background until ``size`` are ready or starting."""
        if self._closed:
            return
        loop = asyncio.get_running_loop()
        while len(self._ready) + len(self._starting) < self.size:
            task = loop.create_task(self._start_one())
            self._starting.add(task)
            task.add_done_callback(self._starting.discard)

    async def _start_one(self) -> None:
        try:
            browser = await self._launch()
        except Exception as exc:  # the next take() starts one itself and reports the error
            log.warning("could not start a spare browser: %s", exc)
            return
        if self._closed:
            await browser.close()
        else:
            self._ready.append(browser)

    async def close(self) -> None:
        """Close every reserved browser and stop starting new ones."""
        self._closed = True
        # Let starts in flight finish (they close what they started): cancelling a launch
        # half-way could leave a Playwright driver or Chromium behind.
        if self._starting:
            await asyncio.gather(*self._starting, return_exceptions=True)
        ready, self._ready = self._ready, []
        for browser in ready:
            with contextlib.suppress(Exception):
                await browser.close()
