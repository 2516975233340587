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


class NetworkMonitor:
    """Counts requests of a browser context that have started but not finished."""

    def __init__(self, context: BrowserContext) -> None:
        self._inflight: set[Request] = set()
        self._last_change = time.monotonic()
        context.on("request", self._started)
        context.on("requestfinished", self._ended)
        context.on("requestfailed", self._ended)

    def _started(self, request: Request) -> None:
        if request.resource_type in _LONG_LIVED:
            return
        self._inflight.add(request)
        self._last_change = time.monotonic()

    def _ended(self, request: Request) -> None:
        self._inflight.discard(request)
        self._last_change = time.monotonic()

    @property
    def idle(self) -> bool:
        """True when no request is in flight."""
        return not self._inflight

    def quiet_for(self, seconds: float) -> bool:
        """True when nothing has been in flight for at least ``seconds``."""
        return not self._inflight and time.monotonic() - self._last_change >= seconds
