"""One browser session: a private Chromium, its shared page, its refs and snapshots."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from agent.browser.cdp_router import CdpClient
from agent.browser.grammar import is_ref
from agent.browser.handle import BrowserHandle
from agent.browser.launch import BoxOptions, launch_browser
from agent.browser.main_world import MainWorld
from agent.browser.network import NetworkMonitor
from agent.browser.refs import RefRegistry, document_id, first_css_match
from agent.browser.snapshot import PageLook, Snapshot, SnapshotMode, Snapshotter
from agent.browser.tokens import TokenCounter, token_counter
from agent.errors import SessionLostError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from playwright.async_api import BrowserContext, ElementHandle, Locator, Page

__all__ = ["BrowserSession"]

log = logging.getLogger(__name__)


class BrowserSession:
    """A Chromium page that prompts, tools and code all act on, one call at a time.

    Use ``await BrowserSession.start()`` (or ``async with``) and ``await session.close()``.
    """

    def __init__(
        self,
        browser: BrowserHandle,
        *,
        counter: TokenCounter | None = None,
        action_timeout_s: float = 5.0,
        navigation_timeout_s: float = 30.0,
    ) -> None:
        self._browser = browser
        self.refs = RefRegistry()
        self.counter = counter or token_counter()
        self._main_world = MainWorld(browser.router)
        self._snapshotter = Snapshotter(
            self.refs,
            self.counter,
            timeout_ms=navigation_timeout_s * 1000,
            main_world=self._main_world,
        )
        self.action_timeout_ms = action_timeout_s * 1000
        self.navigation_timeout_ms = navigation_timeout_s * 1000
        self.network = NetworkMonitor(browser.context)
        self.lock = asyncio.Lock()  # calls on one session are serialised
        self._cleanups: list[Callable[[], Awaitable[None]]] = []
        self._page = browser.page
        self._page.set_default_timeout(self.action_timeout_ms)
        self._page.set_default_navigation_timeout(self.navigation_timeout_ms)
        browser.context.on("page", self._on_new_page)
        self._main_world.prepare(self._page)

    @classmethod
    async def start(
        cls,
        *,
        executable: str | None = None,
        headless: bool = True,
        action_timeout_s: float = 5.0,
        navigation_timeout_s: float = 30.0,
        counter: TokenCounter | None = None,
        box: BoxOptions | None = None,
    ) -> BrowserSession:
        """Launch a local Chromium for a new session; ``box``: in a bubblewrap box of its own."""
        browser = await launch_browser(executable=executable, headless=headless, box=box)
        return cls(
            browser,
            counter=counter,
            action_timeout_s=action_timeout_s,
            navigation_timeout_s=navigation_timeout_s,
        )

    async def __aenter__(self) -> BrowserSession:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def alive(self) -> bool:
        """Whether the browser is still running and connected."""
        return self._browser.alive

    @property
    def lost_reason(self) -> str | None:
        """Why the browser was ended for going past a limit of its own (its memory), checked
        now; None while it keeps within them."""
        return self._browser.ended_by_limit()

    @property
    def context(self) -> BrowserContext:
        """The Playwright context holding this session's tabs, cookies, storage and routes."""
        return self._browser.context

    @property
    def tabs(self) -> list[Page]:
        """The session's open tabs, oldest first."""
        return [p for p in self._browser.context.pages if not p.is_closed()]

    @property
    def browser_version(self) -> str:
        """The browser's product version, such as ``Chrome/140.0.7339.0``."""
        return self._browser.browser.version

    @property
    def pid(self) -> int | None:
        """The process id of the browser when it runs on this machine (its process group holds
        every helper process); None for a remote browser."""
        return self._browser.pid

    @property
    def handle(self) -> BrowserHandle:
        """Where the browser runs and how it is reached (local process, remote endpoint)."""
        return self._browser

    @property
    def page(self) -> Page:
        """The page every call acts on; a tab the page opens becomes the current page."""
        if self._page.is_closed():
            open_pages = self.tabs
            if not open_pages or not self.alive:
                raise SessionLostError(
                    "The session's browser page is gone (the browser was closed or crashed). "
                    "Start a new session."
                )
            self._page = open_pages[-1]
        return self._page

    def _on_new_page(self, page: Page) -> None:
        # A link with target=_blank or window.open moves the agent's attention to the new tab,
        # as it would a person's.
        page.set_default_timeout(self.action_timeout_ms)
        page.set_default_navigation_timeout(self.navigation_timeout_ms)
        self._page = page
        self._main_world.prepare(page)

    def switch_to(self, page: Page) -> None:
        """Make ``page``, one of the session's tabs, the page every call acts on."""
        self._page = page

    async def new_tab(self) -> Page:
        """Open a blank tab and make it the current page."""
        page = await self._browser.context.new_page()
        self.switch_to(page)
        return page

    @property
    def cdp_url(self) -> str:
        """The ``ws+unix://`` URL of this session's DevTools (a private socket; Playwright
        connects to it with ``connect_over_cdp``)."""
        return self._browser.cdp_url

    @property
    def cdp_socket(self) -> Path:
        """The unix socket behind ``cdp_url``."""
        return self._browser.client_socket

    async def serve_cdp(self, client: CdpClient) -> None:
        """Serve one DevTools client (a WebSocket) until it disconnects or the session ends."""
        await self._browser.router.serve(client)

    async def loopback_cdp_url(self) -> str:
        """A token-guarded ``ws://127.0.0.1`` URL of this session's DevTools, for clients that
        need TCP."""
        return await self._browser.loopback_cdp_url()

    async def goto(self, url: str, *, wait_until: str = "load") -> int | None:
        """Navigate the current page; return the HTTP status of the main document, if any."""
        try:
            response = await self.page.goto(url, wait_until=wait_until)  # type: ignore[arg-type]
        except PlaywrightTimeoutError:
            await self.stop_loading()
            raise
        return response.status if response else None

    async def stop_loading(self) -> None:
        """Abandon the page's pending navigation, as the browser's stop button would.

        A navigation left pending (a site that never answers) keeps any new CDP client from
        attaching to the browser, so a code worker started afterwards, or a client of
        ``cdp_url``, would hang until it ended. Best effort: the page may be gone or stuck.
        """
        try:
            async with asyncio.timeout(3):
                cdp = await self._browser.context.new_cdp_session(self.page)
                try:
                    await cdp.send("Page.stopLoading")
                finally:
                    await cdp.detach()
        except Exception as exc:
            log.debug("could not stop the page loading: %s", exc)

    async def snapshot(
        self,
        *,
        mode: SnapshotMode = "full",
        scope: str | None = None,
        max_tokens: int | None = None,
        page_number: int = 1,
        max_depth: int | None = None,
        looked: PageLook | None = None,
    ) -> Snapshot:
        return await self._snapshotter.take(
            self.page,
            mode=mode,
            scope=scope,
            max_tokens=max_tokens,
            page_number=page_number,
            max_depth=max_depth,
            looked=looked,
        )

    async def look(self) -> PageLook:
        """The browser's side of a snapshot of the current page, no ref issued (``snapshot``
        given it renders it)."""
        return await self._snapshotter.look(self.page)

    async def resolve(self, ref: str) -> Locator | ElementHandle:
        """The element a ref names, or ``StaleRefError`` / ``UnknownRefError``."""
        page = self.page
        return await self.refs.resolve(
            page,
            ref,
            current_doc=lambda: document_id(page, self._main_world),
            refresh=lambda: self._snapshotter.live_pw_refs(page),
        )

    async def locate(self, target: str) -> Locator | ElementHandle:
        """The element a target names: a ref (``@e3``), or else the first match of a CSS
        selector."""
        if is_ref(target):
            return await self.resolve(target)
        return await first_css_match(self.page, target)

    def add_cleanup(self, cleanup: Callable[[], Awaitable[None]]) -> None:
        """Run ``cleanup`` when the session closes (warm executors, RPC sockets), newest first."""
        self._cleanups.append(cleanup)

    async def close(self) -> None:
        """Run the cleanups, then close the browser; safe to call twice."""
        cleanups, self._cleanups = self._cleanups[::-1], []
        for cleanup in cleanups:
            try:
                await cleanup()
            except Exception:  # one failing cleanup must not leave the browser running
                log.exception("session cleanup failed")
        self._main_world.close()
        await self._browser.close()
