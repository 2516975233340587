"""The navigation a page's main frame has in flight: while it has, the page cannot be read.

From the moment a main-frame navigation's request goes out until the new document commits (or
the request fails), Chromium holds back every DevTools command to that frame: an evaluate or
Playwright's aria snapshot sent meanwhile is answered only after the server's response, or
fails then (measured: a raw ``Runtime.evaluate`` waited 2.9 s for a 3 s response). So a
snapshot asked for then would wait for a slow server, and so would the snapshot being prepared
(``agent.mcp.warmup``), which is abandoned as the navigation starts. ``browser_snapshot`` asks
here first and, while the page is navigating, answers at once where it is going instead.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from playwright.async_api import Error as PlaywrightError

if TYPE_CHECKING:
    from playwright.async_api import Frame, Page, Request

__all__ = ["Navigation", "NavigationWatch", "navigation_watch"]

T = TypeVar("T")


@dataclass(frozen=True)
class Navigation:
    """A main-frame navigation under way: where to, and since when (``time.monotonic``)."""

    url: str
    started: float


@dataclass
class NavigationWatch:
    """Follows one page's main-frame navigations by the requests Playwright reports.

    Attributes:
        on_start: called as a navigation's request goes out (the warm-up abandons itself).
    """

    page: Page
    on_start: set[Callable[[], None]] = field(default_factory=set)
    _request: Request | None = None
    _since: float = 0.0

    def __post_init__(self) -> None:
        self.page.on("request", self._requested)
        self.page.on("requestfailed", self._ended)
        self.page.on("requestfinished", self._ended)  # a download or a 204: nothing commits
        self.page.on("framenavigated", self._committed)

    def pending(self, give_up_after_s: float) -> Navigation | None:
        """The navigation in flight, if any; one older than ``give_up_after_s`` is not trusted
        (an event that never came must not stop snapshots for good)."""
        request = self._request
        if request is None or time.monotonic() - self._since > give_up_after_s:
            return None
        return Navigation(request.url, self._since)

    async def unless_navigating(self, work: Awaitable[T]) -> T | None:
        """``work``'s result, or None when a navigation of the page started first: the event
        can reach us after a call that was sent behind the navigation, which Chromium then
        holds until the response."""
        task = asyncio.ensure_future(work)
        navigated = False

        def stop() -> None:
            nonlocal navigated
            navigated = True
            task.cancel()

        self.on_start.add(stop)
        try:
            return await task
        except asyncio.CancelledError:
            if navigated and not _cancelling():
                return None
            raise
        finally:
            self.on_start.discard(stop)

    def _requested(self, request: Request) -> None:
        if not request.is_navigation_request():
            return
        try:
            main = request.frame is self.page.main_frame
        except PlaywrightError:  # a service worker's request has no frame
            return
        if not main:
            return
        if self._request is None or request.redirected_from is None:
            self._since = time.monotonic()
        self._request = request
        for abandon in list(self.on_start):
            abandon()

    def _ended(self, request: Request) -> None:
        if request is self._request:
            self._request = None

    def _committed(self, frame: Frame) -> None:
        if frame is self.page.main_frame:
            self._request = None


def _cancelling() -> bool:
    current = asyncio.current_task()
    return current is not None and current.cancelling() > 0


_watches: dict[Page, NavigationWatch] = {}  # dropped as the page closes


def navigation_watch(page: Page) -> NavigationWatch:
    """The watch of ``page``, started on first use: before an action on the page, so that a
    navigation the action starts is seen."""
    watch = _watches.get(page)
    if watch is None:
        watch = _watches[page] = NavigationWatch(page)

        def forget(_closed: Page) -> None:
            _watches.pop(page, None)

        page.once("close", forget)
    return watch
