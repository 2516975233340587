"""A page's main world, reached through the session's own DevTools router.

Every Playwright call travels from this process to Playwright's driver (a Node.js process), from
there to the router (back in this process), and on to the browser; its answer goes the same way
back. A snapshot makes two calls at once: Playwright's aria snapshot and the clickable scan. The
scan's answer is small, but on its way back it queued in the driver behind the aria text (a
hundred kilobytes on a news page, which the driver reads, converts and writes again), so the
snapshot ended milliseconds after Playwright's call did. Sent by the router itself on a DevTools
session of its own to the page, the scan is answered straight to this process, never through
the driver, and is in before the aria text has left it.

A ref's document check (``agent.browser.refs.document_id``, before every action on a ref) goes
this way too: 0.4 ms instead of 1.1 for a stale ref, 1.8 instead of 2.5 for a whole live one.

Only the session's own code uses this line (the router's own calls are unconfined and answered
to no client). Whatever cannot be had this way (a browser that will not attach the router to
the page, a page gone, a script error) raises :class:`MainWorldUnavailable`, and the caller asks
through Playwright as before: the same script, the same world, the same answer.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page

from agent.browser.cdp_router import CdpRouter

__all__ = ["MainWorld", "MainWorldUnavailable"]


class MainWorldUnavailable(Exception):
    """The router could not evaluate in the page; ask through Playwright instead."""


class MainWorld:
    """Evaluates expressions in the main world of a session's pages, through its router."""

    def __init__(self, router: CdpRouter) -> None:
        self._router = router
        # Page -> the router's DevTools session on its target (None: this page cannot have one).
        self._sessions: weakref.WeakKeyDictionary[Page, asyncio.Future[str | None]] = (
            weakref.WeakKeyDictionary()
        )

    async def evaluate(self, page: Page, expression: str) -> Any:
        """The value of ``expression`` in the page's current document (returned by value).

        Raises:
            MainWorldUnavailable: no session on the page, the page is gone, or the expression
                threw; Playwright's own ``evaluate`` says what went wrong.
        """
        session = await self._session(page)
        if session is None:
            raise MainWorldUnavailable("the router has no session on this page")
        try:
            answer = await self._router.call(
                "Runtime.evaluate",
                {"expression": expression, "returnByValue": True, "silent": True},
                session=session,
            )
        except ConnectionError as exc:  # a detached session, a closed page or browser
            self._sessions.pop(page, None)
            raise MainWorldUnavailable(str(exc)) from exc
        if "exceptionDetails" in answer:
            raise MainWorldUnavailable("the expression threw")
        return answer.get("result", {}).get("value")

    def prepare(self, page: Page) -> None:
        """Attach to ``page`` now, in the background, so that its first snapshot need not."""
        self._session(page)

    def close(self) -> None:
        """Stop attaching (the browser is closing)."""
        for session in self._sessions.values():
            session.cancel()
        self._sessions.clear()

    def _session(self, page: Page) -> asyncio.Future[str | None]:
        session = self._sessions.get(page)
        if session is None or (session.done() and (session.cancelled() or session.exception())):
            session = self._sessions[page] = asyncio.ensure_future(self._attach(page))
        return session

    async def _attach(self, page: Page) -> str | None:
        """The router's own session on the page's target; None when it cannot have one."""
        try:
            # Playwright names a page's target only through a DevTools session of its own.
            probe = await page.context.new_cdp_session(page)
            try:
                info = await probe.send("Target.getTargetInfo")
            finally:
                await probe.detach()
            attached = await self._router.call(
                "Target.attachToTarget",
                {"targetId": info["targetInfo"]["targetId"], "flatten": True},
            )
        except (PlaywrightError, ConnectionError, KeyError):
            return None
        return str(attached["sessionId"])
