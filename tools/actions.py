"""The tools that act on one element: click, fill, type, press, hover, select, check, drag.

Each names its element by a ref from the latest snapshot and runs the shared action of
``tools.element_actions``; these functions only say what the model may pass. ``drag`` is also
offered by MCP and ``agent browser`` as it is (``tools.SHARED_TOOLS``): its targets go through
``found_by``, so each face's callers may name them as that face allows (a ref; a selector
over MCP and in ``agent browser``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tools import element_actions as act
from tools.base import ToolOutcome, tool
from tools.changes import ChangeWatch
from tools.elements import act_on
from tools.targets import RefTarget, found_by, resolve

if TYPE_CHECKING:
    from tools.context import ToolContext

__all__ = [
    "check",
    "click",
    "dblclick",
    "drag",
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


@tool
async def drag(ctx: ToolContext, target: str, to: str) -> ToolOutcome:
    """Drag an element and drop it onto another (sortable lists, drop zones, kanban boards).

    Args:
        target: The element to drag: its ref from the latest snapshot, like @e3.
        to: The element to drop it on: its ref, like @e7.
    """
    source, destination = await found_by(ctx, target), await found_by(ctx, to)
    session = ctx.session
    timeout = session.action_timeout_ms
    mouse = session.page.mouse

    async def dragging(element: object) -> None:
        # Pressed, moved and released as a person would: pages listen for HTML drag and drop
        # or for the pointer events themselves, and Chromium gives both from these.
        await source.element.hover(timeout=timeout)
        await mouse.down()
        await destination.element.hover(timeout=timeout)
        await mouse.up()

    watch = ChangeWatch(session)
    await act_on(session, source.element, source.label, dragging)
    changes = watch.changes()
    done = f"dragged {source.label} onto {destination.label}"
    return ToolOutcome(done + changes.note(), changes=changes)
