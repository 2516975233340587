"""From a Playwright MCP ``target`` to one element: a ref from our snapshot, or a selector that
matches exactly one element.

Playwright MCP's tools name an element by ``target``: "exact target element reference from the
page snapshot, or a unique element selector". Refs go through the session's ref registry (so a
stale ref says so); a selector must match one element, never the first of several, so an action
never lands on an element the model did not mean.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from playwright.async_api import Error as PlaywrightError

from agent.browser.grammar import is_ref
from agent.errors import ToolError, first_line

if TYPE_CHECKING:
    from playwright.async_api import ElementHandle, Locator

    from tools.context import ToolContext

__all__ = ["locate"]


async def locate(ctx: ToolContext, target: str) -> tuple[Locator | ElementHandle, str]:
    """The element ``target`` names and how results should name it (``@e5 button "Go"``).

    Raises:
        ToolError: the ref is stale or unknown, or the selector is invalid or does not match
            exactly one element.
    """
    if is_ref(target):
        return await ctx.session.resolve(target), ctx.label(target)
    locator = ctx.page.locator(target)
    try:
        count = await locator.count()
    except PlaywrightError as exc:
        raise ToolError(
            f"{target!r} is neither a ref from browser_snapshot (like @e3) nor a valid selector: "
            f"{first_line(exc)}"
        ) from exc
    if count == 0:
        raise ToolError(
            f"No element matches {target!r}. Use a ref from the latest browser_snapshot "
            "(like @e3), or take a new snapshot if the page changed."
        )
    if count > 1:
        raise ToolError(
            f"{target!r} matches {count} elements, so which one is meant is unclear. Use a ref "
            "from browser_snapshot (like @e3) or a selector that matches one element."
        )
    return locator, repr(target)
