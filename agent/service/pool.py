"""Browsers started ahead of need, and a fair, bounded wait for one in a burst.

Starting Chromium takes about 0.6 CPU-seconds here (a boxed Chromium 156), more than a scrape
of a simple page. The pool keeps up to ``size`` started browsers in reserve
(``AGENT_WARM_BROWSERS``) and starts replacements in the background as they are taken.
Launches for waiting scrapes run ``concurrency`` at a time: Chromium's start is CPU-bound, and
fifty at once on two cores would each take so long that they all miss their start-up timeout,
while a few at a time all start.
Spares for the reserve start one at a time and only while no scrape is being served, so that
refilling after a burst served from the reserve does not take the CPU from the scrapes it is
serving.

A scrape that finds no browser ready joins a first-come-first-served queue, and every browser
that finishes starting goes to the longest-waiting scrape (then to the reserve). A scrape waits
at most ``wait_s``; past that it is answered 429 with ``Retry-After`` (never a timeout), and the
launch it set off is not wasted: that browser goes to the next scrape in line or into the
reserve, so the client's retry finds it ready.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import time
from collections.abc import Awaitable, Callable, Iterator

from agent.browser.session import BrowserSession
from agent.errors import RequestError
from agent.service.wait_line import WaitLine

__all__ = ["DEFAULT_LAUNCH_CONCURRENCY", "BrowserPool"]

log = logging.getLogger(__name__)

DEFAULT_LAUNCH_CONCURRENCY = (os.cpu_count() or 2) + 1
"""Browsers started at once by default: one per core, plus one to cover the time a launch waits
on its pipe rather than a CPU."""


class BrowserPool:
    """Hands out started browsers, keeping ``size`` more ready in the background."""

    def __init__(
        self,
        factory: Callable[[], Awaitable[BrowserSession]],
        size: int,
        *,
        concurrency: int = DEFAULT_LAUNCH_CONCURRENCY,
        wait_s: float = 30.0,
    ) -> None:
        self._factory = factory
        self.size = size
        self.wait_s = wait_s
        self._concurrency = concurrency
        self._launching = asyncio.Semaphore(concurrency)
        self._refilling = asyncio.Semaphore(1)
        self._serving = 0
        self._quiet = asyncio.Event()
        self._quiet.set()
        self._ready: list[BrowserSession] = []
        self._line: WaitLine[BrowserSession] = WaitLine()
        self._launches: set[asyncio.Task[None]] = set()
        self._closed = False
        self._launch_s = 2.0  # a running estimate of one launch, for Retry-After

    @property
    def ready(self) -> int:
        return len(self._ready)

    @property
    def waiting(self) -> int:
        """Callers waiting for a browser to start."""
        return len(self._line)

    @contextlib.contextmanager
    def serving(self) -> Iterator[None]:
        """Mark a scrape being served: spares for the reserve wait until none is."""
        self._serving += 1
        self._quiet.clear()
        try:
            yield
        finally:
            self._serving -= 1
            if self._serving == 0:
                self._quiet.set()

    async def take(self, wait_s: float | None = None) -> BrowserSession:
        """A started browser: a reserved one when one is ready and alive, else the next one to
        finish starting, in the order the callers came.

        Raises:
            RequestError: TOO_MANY_SESSIONS (429, with Retry-After) when no browser could be
                had within ``wait_s`` (the pool's own wait when None).
            BrowserError: the browser this caller waited for failed to start.
        """
        browser = self._take_ready()
        if browser is not None:
            self._launch_as_needed()
            return browser
        place = self._line.join()
        self._launch_as_needed()  # counting this caller in
        limit = self.wait_s if wait_s is None else wait_s
        try:
            # A browser that comes as this caller is cancelled is kept for the next one.
            return await self._line.wait(place, limit, give_back=self._deliver)
        except TimeoutError:
            retry_after = max(
                1, math.ceil((len(self._line) + 1) * self._launch_s / self._concurrency)
            )
            raise RequestError(
                "TOO_MANY_SESSIONS",
                f"All browsers are busy starting for earlier scrapes; this one waited {limit:g} "
                f"s. Retry after {retry_after} s (the browser started for it will be ready), or "
                "raise AGENT_WARM_BROWSERS for bursts.",
                retry_after_s=retry_after,
            ) from None

    def _take_ready(self) -> BrowserSession | None:
        while self._ready:
            candidate = self._ready.pop(0)
            if candidate.alive:
                return candidate
            self._close_later(candidate)
        return None

    def refill(self) -> None:
        """Start browsers in the background until ``size`` are ready or starting."""
        self._launch_as_needed()

    def _launch_as_needed(self) -> None:
        """Keep enough launches going for every waiting caller plus a full reserve."""
        if self._closed:
            return
        wanted = len(self._line) + max(0, self.size - len(self._ready))
        loop = asyncio.get_running_loop()
        while len(self._launches) < wanted:
            task = loop.create_task(self._launch_one())
            self._launches.add(task)
            task.add_done_callback(self._launches.discard)

    async def _launch_one(self) -> None:
        async with contextlib.AsyncExitStack() as stack:
            if not self._line:
                # A spare for the reserve, with nobody waiting: once no scrape is being served,
                # and one at a time, so that refilling after a burst never takes the CPU from
                # the scrapes it serves. (Under steady load the reserve stays low, and scrapes
                # that wait get launches at full speed.)
                await stack.enter_async_context(self._refilling)
                while not self._quiet.is_set() and not self._line:
                    await self._quiet.wait()
            await stack.enter_async_context(self._launching)
            if self._closed:
                return  # queued while the server was stopping: start nothing more
            started = time.monotonic()
            try:
                browser = await self._factory()
            except Exception as exc:
                # Tell the caller it was for, rather than leaving it to wait out its limit.
                if not self._line.fail(exc):
                    log.warning("could not start a spare browser: %s", exc)
                return
            self._launch_s = 0.8 * self._launch_s + 0.2 * (time.monotonic() - started)
        if self._closed:
            await browser.close()
            return
        self._deliver(browser)

    def _deliver(self, browser: BrowserSession) -> None:
        if self._closed:
            self._close_later(browser)
            return
        if not self._line.hand(browser):
            self._ready.append(browser)

    def _close_later(self, browser: BrowserSession) -> None:
        task = asyncio.get_running_loop().create_task(browser.close())
        task.add_done_callback(_log_failure)

    async def close(self) -> None:
        """Close every reserved browser and stop starting new ones."""
        self._closed = True
        self._quiet.set()  # spares waiting for quiet give up now, not when scrapes end
        # Let launches in flight finish (they close what they started): cancelling one half-way
        # could leave a Chromium behind.
        if self._launches:
            await asyncio.gather(*self._launches, return_exceptions=True)
        ready, self._ready = self._ready, []
        for browser in ready:
            with contextlib.suppress(Exception):
                await browser.close()


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("closing a spare browser failed: %s", task.exception())
