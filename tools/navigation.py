"""Tools that move around: navigate, go back, scroll, wait."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Literal
from urllib.parse import urljoin

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from agent.errors import ToolError, first_line
from tools.base import tool
from tools.elements import settle
from tools.page_actions import wait_for_target, wait_for_text
from tools.targets import RefTarget, resolve

if TYPE_CHECKING:
    from agent.browser.session import BrowserSession
    from tools.context import ToolContext
    from tools.targets import Found

__all__ = ["go_back", "navigate", "scroll", "scroll_by", "wait_for"]


@tool
async def navigate(ctx: ToolContext, url: str) -> str:
    """Open a URL in the current tab.

    Args:
        url: An absolute http(s) URL, or a path relative to the current page.
    """
    session = ctx.session
    target = urljoin(session.page.url, url) if not url.startswith(("http://", "https://")) else url
    if not target.startswith(("http://", "https://", "file://", "about:")):
        raise ToolError(f"{url!r} is not a web address; give an http(s) URL.")
    try:
        status = await session.goto(target, wait_until="domcontentloaded")
    except PlaywrightTimeoutError as exc:
        raise ToolError(
            f"{target} did not finish loading in time; try again or wait_for load."
        ) from exc
    except PlaywrightError as exc:
        raise ToolError(f"Could not open {target}: {first_line(exc)}") from exc
    loaded = await _loaded_within(session, _LOAD_WAIT_S)
    title = await settle(session, loaded=True) if loaded else None
    if title is None:
        title = await session.page.title()
    code = f" (HTTP {status})" if status and status >= 400 else ""
    still = (
        ""
        if loaded
        else f"; still loading after {_LOAD_WAIT_S:g} s (some of its resources have not "
        "arrived): what has is there to see, or wait_for load"
    )
    return f"opened {session.page.url}{code}, title {title!r}{still}"


_LOAD_WAIT_S = 5.0
"""How long ``navigate`` waits for the load event once the document itself has been read. The
load event waits for every image, frame and script of the page; one that hangs (a tracker, a
third-party widget) held a navigation for tens of seconds, its content long there to see.
Playwright MCP's navigate waits as long."""


async def _loaded_within(session: BrowserSession, wait_s: float) -> bool:
    """Whether the page fired its load event within ``wait_s``."""
    try:
        await session.page.wait_for_load_state("load", timeout=wait_s * 1000)
    except PlaywrightTimeoutError:
        return False
    return True


@tool
async def go_back(ctx: ToolContext) -> str:
    """Go back to the previous page in this tab's history."""
    session = ctx.session
    try:
        # "commit", not "load": a page restored from the back-forward cache fires no load event.
        response = await session.page.go_back(wait_until="commit")
    except PlaywrightError as exc:
        raise ToolError(f"Could not go back: {first_line(exc)}") from exc
    if response is None and session.page.url == "about:blank":
        raise ToolError("There is no previous page in this tab's history.")
    await settle(session)
    return f"went back to {session.page.url}"


_SCROLL_JS = """([el, dx, dy]) => {
  const box = el || document.scrollingElement || document.documentElement;
  const before = [box.scrollLeft, box.scrollTop];
  if (el && box.scrollHeight <= box.clientHeight && box.scrollWidth <= box.clientWidth) {
    el.scrollIntoView({block: 'center'});
    return {scrolled: 'into-view', top: 0, height: 0, view: 0};
  }
  box.scrollBy(dx, dy);
  return {scrolled: (box.scrollLeft !== before[0] || box.scrollTop !== before[1]) ? 'yes' : 'no',
          top: Math.round(box.scrollTop), height: box.scrollHeight, view: box.clientHeight};
}"""


_NEXT_FRAMES_JS = """() => new Promise((done) => {
  setTimeout(done, 500);  // a page whose frames are not being produced must not stall the tool
  requestAnimationFrame(() => requestAnimationFrame(done));
})"""


@tool
async def scroll(
    ctx: ToolContext,
    direction: Literal["down", "up", "left", "right"] = "down",
    amount: int | None = None,
    ref: str | None = None,
) -> str:
    """Scroll the page, or a scrollable element, to reveal more content.

    Args:
        direction: Which way to scroll.
        amount: Pixels to scroll; omit for about one screen.
        ref: A scrollable element to scroll instead of the page (like @e3); an element
            that cannot scroll is scrolled into view.
    """
    found = await resolve(ctx, RefTarget(ref)) if ref else None
    return await scroll_by(ctx, direction, amount, found)


async def scroll_by(
    ctx: ToolContext,
    direction: Literal["down", "up", "left", "right"],
    amount: int | None = None,
    found: Found | None = None,
) -> str:
    """Scroll the page, or the element ``found`` (an element that cannot scroll is scrolled
    into view), by ``amount`` pixels or about one screen, and wait for what the page loads."""
    session = ctx.session
    viewport = session.page.viewport_size or {"width": 1280, "height": 800}
    step = (
        amount
        if amount is not None
        else int((viewport["height"] if direction in ("down", "up") else viewport["width"]) * 0.8)
    )
    dx = {"left": -step, "right": step}.get(direction, 0)
    dy = {"up": -step, "down": step}.get(direction, 0)
    if found is not None:
        state = await found.element.evaluate(f"(el) => ({_SCROLL_JS})([el, {dx}, {dy}])")
        where = found.label
    else:
        state = await session.page.evaluate(_SCROLL_JS, [None, dx, dy])
        where = "the page"
    # Scroll events are dispatched with the next frame; wait for it so that what the page does
    # on scroll (load the next batch of an infinite feed) has started before settling. On a
    # busy machine the frame can come later than settle's own short pause.
    await session.page.evaluate(_NEXT_FRAMES_JS)
    await settle(session, max_wait_s=1.5)
    if state["scrolled"] == "into-view":
        return f"scrolled {where} into view"
    if state["scrolled"] == "no":
        return (
            f"{where} did not move: it is already at the {'end' if dy > 0 or dx > 0 else 'start'}"
        )
    seen = min(state["top"] + state["view"], state["height"])
    return f"scrolled {where} {direction} by {step}px; showing up to {seen} of {state['height']}px"


_NETWORK_IDLE_S = 0.5
"""Quiet that counts as network idle (Playwright's and agent-browser's figure)."""


async def _network_quiet(session: BrowserSession, quiet_s: float, timeout_s: float) -> None:
    """Wait until no request of the session has been in flight for ``quiet_s``.

    Playwright's ``networkidle`` is a milestone of the navigation: once a page has been quiet
    it is reached for good, so a request started later (by a click, or by the page once loaded)
    would not be waited for. The session's monitor counts every request, whenever it started.

    Raises:
        PlaywrightTimeoutError: not quiet within ``timeout_s``.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not session.network.quiet_for(quiet_s):
        if loop.time() >= deadline:
            raise PlaywrightTimeoutError("the network did not go quiet")
        await asyncio.sleep(0.02)


@tool
async def wait_for(
    ctx: ToolContext,
    text: str | None = None,
    ref: str | None = None,
    load_state: Literal["load", "domcontentloaded", "networkidle"] | None = None,
    timeout_s: float = 5.0,
) -> str:
    """Wait until some text appears, an element is visible, or the page reaches a load state.

    Args:
        text: Text to wait for anywhere on the page.
        ref: An element to wait for until it is visible, like @e3.
        load_state: A load state to wait for.
        timeout_s: How long to wait at most, in seconds (up to 30).
    """
    session = ctx.session
    if not (text or ref or load_state):
        raise ToolError("wait_for needs text, ref or load_state.")
    timeout_ms = min(max(timeout_s, 0.1), 30.0) * 1000
    page = session.page
    try:
        if load_state:
            await page.wait_for_load_state(load_state, timeout=timeout_ms)
        if load_state == "networkidle":
            await _network_quiet(session, _NETWORK_IDLE_S, timeout_ms / 1000)
        if text:
            await wait_for_text(ctx, text, timeout_ms=timeout_ms)
        if ref:
            await wait_for_target(ctx, RefTarget(ref), timeout_ms=timeout_ms)
    except PlaywrightTimeoutError as exc:
        what = " and ".join(
            x
            for x in (
                f"text {text!r}" if text else "",
                f"{ref} to be visible" if ref else "",
                f"load state {load_state}" if load_state else "",
            )
            if x
        )
        raise ToolError(f"Waited {timeout_ms / 1000:.1f} s for {what}; it did not happen.") from exc
    return "done waiting: " + ", ".join(
        x
        for x in (
            f"text {text!r} is visible" if text else "",
            f"{ref} is visible" if ref else "",
            f"page reached {load_state}" if load_state else "",
        )
        if x
    )
