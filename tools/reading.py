"""Tools that read the page: text of an element or the page, and a fresh snapshot."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from agent.errors import ToolError
from tools.base import tool

if TYPE_CHECKING:
    from tools.context import ToolContext

__all__ = ["get_text", "snapshot"]

MAX_TEXT_CHARS = 6000
# A field's text is its value (innerText of an <input> is empty); anything else reads as shown.
_TEXT_OF_JS = """(el) => (el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement
  || el instanceof HTMLSelectElement) ? el.value : el.innerText"""


@tool
async def get_text(ctx: ToolContext, ref: str | None = None, offset: int = 0) -> str:
    """Read the visible text of an element, or of the whole page.

    Args:
        ref: The element to read, like @e3; omit for the whole page.
        offset: Start reading at this character, to continue a long text.
    """
    session = ctx.session
    if ref:
        target = await session.resolve(ref)
        text = await target.evaluate(_TEXT_OF_JS)
    else:
        text = await session.page.inner_text("body")
    text = "\n".join(line.strip() for line in text.splitlines() if line.strip())
    chunk = text[offset : offset + MAX_TEXT_CHARS]
    if offset + MAX_TEXT_CHARS < len(text):
        chunk += (
            f"\n[text continues: {len(text) - offset - MAX_TEXT_CHARS} more characters; "
            f"call get_text with offset={offset + MAX_TEXT_CHARS}]"
        )
    return chunk or "(no visible text)"


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
