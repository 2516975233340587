"""The planner's tools that act on one element: click, fill, type, press, hover, select, check.

Each names its element by a ref from the latest snapshot and runs the shared action of
``tools.element_actions``; these functions only say what the model may pass.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tools import element_actions as act
from tools.base import ToolOutcome, tool
from tools.targets import RefTarget, resolve

if TYPE_CHECKING:
    from tools.context import ToolContext

__all__ = [
    "check",
    "click",
    "dblclick",
    "fill",
    "hover",
    "press",
    "select_option",
    "type_text",
    "uncheck",
]


@tool
async def click(ctx: ToolContext, ref: str) -> ToolOutcome:
    """Click an element.

    Args:
        ref: The element's ref from the latest snapshot, like @e3.
    """
    return await act.click(ctx, await resolve(ctx, RefTarget(ref)))


@tool
async def dblclick(ctx: ToolContext, ref: str) -> ToolOutcome:
    """Double-click an element.

    Args:
        ref: The element's ref from the latest snapshot, like @e3.
    """
    return await act.click(ctx, await resolve(ctx, RefTarget(ref)), double=True)


@tool
async def fill(ctx: ToolContext, ref: str, value: str) -> ToolOutcome:
    """Replace the value of a text field (input, textarea, contenteditable) with new text.

    Args:
        ref: The field's ref from the latest snapshot, like @e3.
        value: The full text the field should hold; an empty string clears it.
    """
    return await act.fill(ctx, await resolve(ctx, RefTarget(ref)), value)


@tool(name="type")
async def type_text(ctx: ToolContext, ref: str, text: str, submit: bool = False) -> ToolOutcome:
    """Type text key by key into a field, after what it holds (for fields that react to typing).

    Args:
        ref: The field's ref from the latest snapshot, like @e3.
        text: The text to type.
        submit: Press Enter after typing.
    """
    return await act.type_into(ctx, await resolve(ctx, RefTarget(ref)), text, submit=submit)


@tool
async def press(ctx: ToolContext, key: str, ref: str | None = None) -> ToolOutcome:
    """Press a key or key combination, on an element or on whatever has focus.

    Args:
        key: A key name such as Enter, Tab, Escape, ArrowDown, PageDown, or a combination
            such as Control+A.
        ref: The element to focus first, like @e3; omit to press on the focused element.
    """
    found = await resolve(ctx, RefTarget(ref)) if ref else None
    return await act.press(ctx, key, found)


@tool
async def hover(ctx: ToolContext, ref: str) -> ToolOutcome:
    """Move the mouse over an element (opens hover menus and tooltips).

    Args:
        ref: The element's ref from the latest snapshot, like @e3.
    """
    return await act.hover(ctx, await resolve(ctx, RefTarget(ref)))


@tool
async def select_option(ctx: ToolContext, ref: str, values: list[str]) -> ToolOutcome:
    """Choose options of a native dropdown (<select>) by their visible label or value.

    Args:
        ref: The dropdown's ref from the latest snapshot, like @e3.
        values: The options to choose, by label or value; more than one only for multi-selects.
    """
    return await act.select(ctx, await resolve(ctx, RefTarget(ref)), values)


@tool
async def check(ctx: ToolContext, ref: str) -> ToolOutcome:
    """Tick a checkbox, or choose a radio button or switch (does nothing if already on).

    Args:
        ref: The checkbox, radio or switch ref from the latest snapshot, like @e3.
    """
    return await act.set_checked(ctx, await resolve(ctx, RefTarget(ref)), True)


@tool
async def uncheck(ctx: ToolContext, ref: str) -> ToolOutcome:
    """Untick a checkbox or switch (does nothing if already off).

    Args:
        ref: The checkbox or switch ref from the latest snapshot, like @e3.
    """
    return await act.set_checked(ctx, await resolve(ctx, RefTarget(ref)), False)
