"""The page actions every face offers besides the planner's own tools: screenshots, scripts,
tabs, history, and waiting for an element or a text.

Like ``tools.element_actions``, these are plain functions of a ``ToolContext``; MCP's
``browser_*`` tools, ``agent browser`` and the scrape actions call them and word the result
their own way. Errors the caller can fix are ``ToolError`` (a script's is ``ScriptError``, whose
``reason`` each face words its own way).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from playwright.async_api import Error as PlaywrightError

from agent.errors import ToolError, first_line
from tools.base import ToolImage
from tools.elements import settle
from tools.targets import RefTarget, resolve

if TYPE_CHECKING:
    from playwright.async_api import ElementHandle, Locator, Page

    from tools.context import ToolContext
    from tools.targets import Found, Target

__all__ = [
    "ScriptError",
    "close_tab",
    "evaluate",
    "go_forward",
    "new_tab",
    "reload",
    "screenshot",
    "select_tab",
    "wait_for_target",
    "wait_for_text",
    "wait_visible",
]

ImageType = Literal["png", "jpeg", "webp"]


class ScriptError(ToolError):
    """A script the caller gave threw; ``reason`` is the page's error, in one line."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"The function failed: {reason}")
        self.reason = reason


async def screenshot(
    ctx: ToolContext,
    found: Found | None = None,
    *,
    type: ImageType = "png",
    full_page: bool = False,
    scale: Literal["css", "device"] = "css",
    quality: int | None = None,
    timeout_ms: float | None = None,
    path: str | None = None,
) -> ToolImage:
    """An image of the viewport (or the whole page with ``full_page``), or of one element;
    also written to ``path`` when given.

    Raises:
        PlaywrightError: the browser could not take it (``PlaywrightTimeoutError`` when it
            timed out): each face says so its own way, and a scrape's deadline is a 408.
    """
    timeout = timeout_ms if timeout_ms is not None else ctx.session.navigation_timeout_ms
    options: dict[str, Any] = {"type": type, "scale": scale, "timeout": timeout, "path": path}
    if quality is not None:
        options["quality"] = quality
    if found is not None:
        data = await found.element.screenshot(**options)
    else:
        data = await ctx.page.screenshot(full_page=full_page, **options)
    return ToolImage(data, f"image/{type}")


async def evaluate(
    ctx: ToolContext, script: str, found: Found | None = None, *, settle_after: bool = False
) -> Any:
    """What a JavaScript function (on the element, with ``found``) or expression returns;
    wait for what it set off with ``settle_after`` (a script may click or navigate).

    Raises:
        ScriptError: the script threw or could not be parsed.
    """
    try:
        if found is not None:
            value = await found.element.evaluate(script)
        else:
            value = await ctx.page.evaluate(script)
    except PlaywrightError as exc:
        if not ctx.session.alive:
            raise
        raise ScriptError(first_line(exc)) from exc
    if settle_after:
        await settle(ctx.session, max_wait_s=1.5)
    return value


async def wait_for_text(
    ctx: ToolContext, text: str, *, gone: bool = False, timeout_ms: float
) -> None:
    """Wait until ``text`` is visible somewhere on the page (or, with ``gone``, no longer is).

    Raises:
        PlaywrightTimeoutError: not within ``timeout_ms``; each face says it its own way.
    """
    locator = ctx.page.get_by_text(text).first
    await locator.wait_for(state="hidden" if gone else "visible", timeout=timeout_ms)


async def wait_for_target(ctx: ToolContext, target: Target, *, timeout_ms: float) -> None:
    """Wait until the element ``target`` names is visible: a ref's element, or the first match
    of a selector (which may not match anything yet).

    Raises:
        ToolError: a stale or unknown ref.
        PlaywrightTimeoutError: not visible within ``timeout_ms``.
    """
    if isinstance(target, RefTarget):
        await wait_visible((await resolve(ctx, target)).element, timeout_ms=timeout_ms)
        return
    await ctx.page.locator(target.selector).first.wait_for(state="visible", timeout=timeout_ms)


async def wait_visible(element: Locator | ElementHandle, *, timeout_ms: float) -> None:
    """Wait until ``element`` (a locator or a handle) is visible.

    Raises:
        PlaywrightTimeoutError: not visible within ``timeout_ms``.
    """
    if hasattr(element, "wait_for"):
        await element.wait_for(state="visible", timeout=timeout_ms)  # Locator
    else:
        await element.wait_for_element_state("visible", timeout=timeout_ms)


async def go_forward(ctx: ToolContext) -> str:
    """Go forward in this tab's history."""
    page = ctx.page
    before = page.url
    # "commit", then settle: a page restored from the back-forward cache fires no load event.
    await page.go_forward(wait_until="commit")
    if page.url == before:
        raise ToolError("There is no next page in this tab's history.")
    await settle(ctx.session)
    return f"went forward to {page.url}"


async def reload(ctx: ToolContext) -> str:
    """Load the current page again."""
    await ctx.page.reload()
    await settle(ctx.session)
    return f"reloaded {ctx.page.url}"


async def new_tab(ctx: ToolContext) -> Page:
    """Open a blank tab; it becomes the current page."""
    return await ctx.session.new_tab()


async def select_tab(ctx: ToolContext, tab: Page) -> None:
    """Make ``tab`` the current page, and bring it to the front."""
    ctx.session.switch_to(tab)
    await tab.bring_to_front()


async def close_tab(ctx: ToolContext, tab: Page, *, keep_one: bool) -> None:
    """Close ``tab``; when it is the last one, open a blank tab first with ``keep_one`` (the
    session keeps a page to act on), else refuse.

    Raises:
        ToolError: it is the only tab and ``keep_one`` is not set.
    """
    if len(ctx.session.tabs) == 1:
        if not keep_one:
            raise ToolError("This is the only tab; open another before closing it.")
        await ctx.session.new_tab()
    await tab.close()
