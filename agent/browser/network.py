"""Tracks a page's in-flight requests so actions can wait for network quiet without paying
Playwright's fixed 500 ms ``networkidle`` on every step."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Request

__all__ = ["NetworkMonitor"]

# Requests that may stay open for the life of the page and so never count against quiet.
_LONG_LIVED = frozenset({"websocket", "eventsource"})

# Requests nothing on the page waits for, which so do not count against quiet either: the web
# app manifest and beacons, by type; prefetches of later navigations' resources, by the header
# Chromium marks them with; and the tab's icons, once the page has said which they are
# (``icons_are``). Icons and prefetches are typed "other", as are preloads a page's script
# will read (`<link rel=preload as=fetch>`), so the type alone cannot tell them apart. On the
# 60 corpus pages, the 91 "other" requests were icons, prefetches and two preloads.
_NOT_CONTENT_TYPES = frozenset({"manifest", "ping"})
_ICON_TYPE = "other"
_MAX_ICONS = 256  # addresses remembered (a few per page visited); then it starts afresh
_MAX_ICONS_OF_A_PAGE = 32  # a page names a handful; a hostile one, as many as it likes


class NetworkMonitor:
    """Counts requests of a browser context that have started but not finished."""

    def __init__(self, context: BrowserContext) -> None:
        self._inflight: set[Request] = set()
        self._icons: set[str] = set()
        self._last_change = time.monotonic()
        context.on("request", self._started)
        context.on("requestfinished", self._ended)
        context.on("requestfailed", self._ended)

    def _started(self, request: Request) -> None:
        kind = request.resource_type
        if kind in _LONG_LIVED or kind in _NOT_CONTENT_TYPES or self._is_icon(request):
            return
        if "prefetch" in request.headers.get("sec-purpose", ""):
            return
        self._inflight.add(request)
        self._last_change = time.monotonic()

    def _ended(self, request: Request) -> None:
        if request in self._inflight:  # not one it never counted (an icon, a beacon)
            self._inflight.discard(request)
            self._last_change = time.monotonic()

    def _is_icon(self, request: Request) -> bool:
        return request.resource_type == _ICON_TYPE and request.url in self._icons

    def icons_are(self, urls: list[str]) -> None:
        """The tab's icons are at ``urls``: the browser fetches them for itself once the page
        has loaded (on a first visit, the one request in flight after the load event), and
        they stop counting as in flight, now and whenever they are fetched again (the first
        ``_MAX_ICONS_OF_A_PAGE`` of them)."""
        urls = urls[:_MAX_ICONS_OF_A_PAGE]
        if len(self._icons) + len(urls) > _MAX_ICONS:
            self._icons.clear()
        self._icons.update(urls)
        self._inflight = {request for request in self._inflight if not self._is_icon(request)}

    @property
    def may_be_fetching_icons(self) -> bool:
        """Whether a request in flight is typed as the tab's icons are: it may be one, until
        the page has named them (``icons_are``)."""
        return any(request.resource_type == _ICON_TYPE for request in self._inflight)

    @property
    def idle(self) -> bool:
        """True when no request is in flight."""
        return not self._inflight

    def changed_since(self, moment: float) -> bool:
        """Whether a request started or ended after ``moment`` (of ``time.monotonic``)."""
        return self._last_change > moment

    def quiet_for(self, seconds: float) -> bool:
        """True when nothing has been in flight for at least ``seconds``."""
        return not self._inflight and time.monotonic() - self._last_change >= seconds
