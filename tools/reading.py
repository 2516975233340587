"""Tools that read the page: text of an element or the page, and a fresh snapshot."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from agent.errors import ToolError
from tools.base import tool

if TYPE_CHECKING:
    from playwright.async_api import ElementHandle, Locator

    from agent.browser.session import BrowserSession
    from tools.context import ToolContext
    from tools.targets import Found

__all__ = [
    "MAX_TEXT_CHARS",
    "element_state",
    "get_text",
    "read_page",
    "read_property",
    "read_text",
    "snapshot",
]

MAX_TEXT_CHARS = 6000
# A field's text is its value (innerText of an <input> is empty); anything else reads as shown.
_TEXT_OF_JS = """(el) => (el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement
  || el instanceof HTMLSelectElement) ? el.value : el.innerText"""


async def read_text(
    session: BrowserSession,
    target: Locator | ElementHandle | None,
    offset: int = 0,
    *,
    reader: str = "get_text",
) -> str:
    """The visible text of ``target`` (a field's value), or of the whole page when None, one
    line per line of text, from ``offset`` on and at most ``MAX_TEXT_CHARS`` of it, ending with a
    note on how to read on (by calling the tool ``reader``) when there is more."""
    if target is not None:
        text = await target.evaluate(_TEXT_OF_JS)
    else:
        text = await session.page.inner_text("body")
    text = "\n".join(line.strip() for line in text.splitlines() if line.strip())
    chunk = text[offset : offset + MAX_TEXT_CHARS]
    if offset + MAX_TEXT_CHARS < len(text):
        chunk += (
            f"\n[text continues: {len(text) - offset - MAX_TEXT_CHARS} more characters; "
            f"call {reader} with offset={offset + MAX_TEXT_CHARS}]"
        )
    return chunk or "(no visible text)"


@tool
async def get_text(ctx: ToolContext, ref: str | None = None, offset: int = 0) -> str:
    """Read the visible text of an element, or of the whole page.

    Args:
        ref: The element to read, like @e3; omit for the whole page.
        offset: Start reading at this character, to continue a long text.
    """
    session = ctx.session
    return await read_text(session, await session.resolve(ref) if ref else None, offset)


@tool
async def snapshot(
    ctx: ToolContext,
    mode: Literal["full", "interactive"] = "full",
    scope: str | None = None,
    page: int = 1,
) -> str:
    """Take a fresh snapshot of the page: its text and every element you can act on, with refs.

    Args:
        mode: full shows text and structure; interactive lists only elements you can act on.
        scope: Limit the snapshot to one part: a ref like @e7 (a dialog, a form) or a CSS selector.
        page: When a capped snapshot says there are more pages, the page to show.
    """
    if page < 1:
        raise ToolError("page starts at 1.")
    shot = await ctx.snapshot(mode=mode, scope=scope, page_number=page)
    return shot.text


async def read_page(ctx: ToolContext, what: str) -> str:
    """The whole page's ``text`` (as shown) or ``html`` (the document), unabridged."""
    page = ctx.page
    return await (page.inner_text("body") if what == "text" else page.content())


async def read_property(found: Found, what: str, name: str | None = None) -> str:
    """One thing about an element, as ``agent browser get`` reads it: its ``text`` (as shown),
    ``html`` (inside it), ``value`` (of a field) or ``attr`` ``name`` (empty when absent).

    Raises:
        ToolError: ``what`` is none of these, or ``attr`` without a name.
    """
    element = found.element
    if what == "text":
        return await element.inner_text()
    if what == "html":
        return await element.inner_html()
    if what == "value":
        return await element.input_value()
    if what == "attr":
        if not name:
            raise ToolError("get attr needs an attribute name: get attr @e3 href")
        return await element.get_attribute(name) or ""
    raise ToolError(f"get {what!r}: use text, html, value, attr, title, url or count.")


async def element_state(found: Found, what: str) -> bool:
    """Whether the element is ``visible``, ``enabled`` or ``checked``.

    Raises:
        ToolError: ``what`` is none of these.
    """
    element = found.element
    checks = {
        "visible": element.is_visible,
        "enabled": element.is_enabled,
        "checked": element.is_checked,
    }
    if what not in checks:
        raise ToolError(f"is {what!r}: use visible, enabled or checked.")
    return await checks[what]()
