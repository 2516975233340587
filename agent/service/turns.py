"""Scrapes take turns at the CPU, first come first served, a few at a time.

A scrape of a simple page costs about half a CPU-second, mostly Chromium's: loading, layout, the
page's content read back. Fifty at once on two cores share the CPU to the end, so every one of
them finishes at about the time the last does (about 19 s here, where one alone takes 0.3 s).
Served a few at a time in the order they came, the first are done in a second and the median at
half the burst, and the machine does less switching between fifty renderers, so the last is no
later either.

A turn ends when the scrape does, or after ``hold_s`` if that comes first: a scrape still
loading by then is waiting on its site rather than the CPU, and keeping its turn would hold quick
scrapes behind a slow page. So a turn is a place in line for the start of the work, and no
scrape waits for more than ``hold_s`` per turn ahead of it.

A scrape that must wait for a browser to start keeps its turn meanwhile (``Turn.starting``):
the clock of ``hold_s`` stops while its browser starts and runs again, from zero, once it has
the browser. Starting a browser is CPU work of its own (half a CPU-second), so starts and page
loads share one line, in the order the scrapes came: without this, a burst's first turns ran out
while their browsers started, the scrapes behind them came in and set off starts of their own,
and every page load of the burst ran beside them, unbounded; with it, at most ``concurrency``
scrapes are at work, starting (as many at once as ``AGENT_LAUNCH_CONCURRENCY``) or loading, and
the oldest finish first.

A scrape waits at most ``wait_s`` for its turn; past that it is answered 429 with
``Retry-After`` before any browser is taken for it, so it loses nothing by retrying.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
from collections.abc import AsyncIterator, Callable, Iterator

from agent.errors import RequestError
from agent.service.wait_line import WaitLine

__all__ = ["DEFAULT_SCRAPE_CONCURRENCY", "ScrapeTurns", "Turn"]

DEFAULT_SCRAPE_CONCURRENCY = 4 * (os.cpu_count() or 2)
"""Scrapes at work at once by default: four per core, so that a scrape waiting on its pipe or
the network leaves the core to another. (On two cores, bursts of 50: 2 at a time gave a median of
8.2 s, 4 gave 7.8 s, 8 gave 6.9 s; all at once, 20 s.)"""


class Turn:
    """One scrape's turn, held until it ends or its clock runs ``hold_s`` (see ``starting``)."""

    def __init__(self, hold_s: float, release: Callable[[], None]) -> None:
        self._hold_s = hold_s
        self._release = release
        self._timer: asyncio.TimerHandle | None = None
        self._run_clock()

    def _run_clock(self) -> None:
        self._timer = asyncio.get_running_loop().call_later(self._hold_s, self._release)

    def _stop_clock(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    @contextlib.contextmanager
    def starting(self) -> Iterator[None]:
        """Around the wait for this scrape's browser: the turn is kept however long the start
        takes (it is CPU work in the scrape's place in line), and ``hold_s`` counts again from
        when the browser is in hand."""
        self._stop_clock()
        try:
            yield
        finally:
            self._run_clock()


class ScrapeTurns:
    """First-come-first-served turns, ``concurrency`` at a time; 0 lets every scrape in at once."""

    def __init__(self, concurrency: int, *, hold_s: float = 2.0, wait_s: float = 30.0) -> None:
        self.concurrency = concurrency
        self.hold_s = hold_s
        self.wait_s = wait_s
        self._active = 0
        self._line: WaitLine[None] = WaitLine()
        self._turn_s = 0.5  # a running estimate of one turn, for Retry-After

    @property
    def waiting(self) -> int:
        return len(self._line)

    @property
    def active(self) -> int:
        """Scrapes holding a turn now (0 when there is no limit: nobody takes turns)."""
        return self._active

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[Turn]:
        """Wait for this scrape's turn, then hold it while the body runs (up to ``hold_s``, not
        counting the time in ``Turn.starting``).

        Raises:
            RequestError: TOO_MANY_SESSIONS (429, with Retry-After) when the turn did not come
                within ``wait_s``.
        """
        if self.concurrency <= 0:
            free = Turn(self.hold_s, lambda: None)
            try:
                yield free
            finally:
                free._stop_clock()
            return
        await self._acquire()
        loop = asyncio.get_running_loop()
        started = loop.time()
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                held = loop.time() - started
                self._turn_s = 0.8 * self._turn_s + 0.2 * held
                self._release()

        turn = Turn(self.hold_s, release)
        try:
            yield turn
        finally:
            turn._stop_clock()
            release()

    async def _acquire(self) -> None:
        if self._active < self.concurrency and not self._line:
            self._active += 1
            return
        try:
            # A turn that comes as this caller is cancelled passes on to the next in line.
            await self._line.wait(
                self._line.join(), self.wait_s, give_back=lambda _turn: self._release()
            )
        except TimeoutError:
            retry_after = max(1, math.ceil(self.waiting * self._turn_s / self.concurrency))
            raise RequestError(
                "TOO_MANY_SESSIONS",
                f"{self._active + self.waiting} scrapes are ahead of this one, which waited "
                f"{self.wait_s:g} s for its turn. Retry after {retry_after} s, or raise "
                "AGENT_SCRAPE_CONCURRENCY or AGENT_QUEUE_TIMEOUT.",
                retry_after_s=retry_after,
            ) from None

    def _release(self) -> None:
        if not self._line.hand(None):  # the turn passes straight to the next in line, if any
            self._active -= 1
