"""Tools that act on one element: click, fill, type, press, hover, select, check."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent.errors import ToolError
from tools.base import tool
from tools.elements import act, settle, what_changed

if TYPE_CHECKING:
    from playwright.async_api import ElementHandle, Locator

    from tools.context import ToolContext

__all__ = [
    "check",
    "choose_options",
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
async def click(ctx: ToolContext, ref: str) -> str:
    """Click an element.

    Args:
        ref: The element's ref from the latest snapshot, like @e3.
    """
    session = ctx.session
    url, pages = session.page.url, len(session.tabs)
    await act(session, ref, lambda t: t.click(timeout=session.action_timeout_ms))
    return f"clicked {ctx.label(ref)}" + what_changed(session, url, pages)


@tool
async def dblclick(ctx: ToolContext, ref: str) -> str:
    """Double-click an element.

    Args:
        ref: The element's ref from the latest snapshot, like @e3.
    """
    session = ctx.session
    url, pages = session.page.url, len(session.tabs)
    await act(session, ref, lambda t: t.dblclick(timeout=session.action_timeout_ms))
    return f"double-clicked {ctx.label(ref)}" + what_changed(session, url, pages)


@tool
async def fill(ctx: ToolContext, ref: str, value: str) -> str:
    """Replace the value of a text field (input, textarea, contenteditable) with new text.

    Args:
        ref: The field's ref from the latest snapshot, like @e3.
        value: The full text the field should hold; an empty string clears it.
    """
    session = ctx.session
    await act(
        session, ref, lambda t: t.fill(value, timeout=session.action_timeout_ms), pointer=False
    )
    return f"filled {ctx.label(ref)} with {value!r}"


@tool(name="type")
async def type_text(ctx: ToolContext, ref: str, text: str, submit: bool = False) -> str:
    """Type text key by key into a field, after what it holds (for fields that react to typing).

    Args:
        ref: The field's ref from the latest snapshot, like @e3.
        text: The text to type.
        submit: Press Enter after typing.
    """
    session = ctx.session

    async def typing(target: Locator | ElementHandle) -> None:
        await target.focus()
        await target.press("End", timeout=session.action_timeout_ms)
        await session.page.keyboard.type(text)
        if submit:
            await target.press("Enter", timeout=session.action_timeout_ms)

    url, pages = session.page.url, len(session.tabs)
    await act(session, ref, typing, pointer=False)
    if submit:
        await settle(session)
    return (
        f"typed {text!r} into {ctx.label(ref)}"
        + (" and pressed Enter" if submit else "")
        + what_changed(session, url, pages)
    )


@tool
async def press(ctx: ToolContext, key: str, ref: str | None = None) -> str:
    """Press a key or key combination, on an element or on whatever has focus.

    Args:
        key: A key name such as Enter, Tab, Escape, ArrowDown, PageDown, or a combination
            such as Control+A.
        ref: The element to focus first, like @e3; omit to press on the focused element.
    """
    session = ctx.session
    url, pages = session.page.url, len(session.tabs)
    try:
        if ref:
            await act(
                session,
                ref,
                lambda t: t.press(key, timeout=session.action_timeout_ms),
                pointer=False,
            )
        else:
            await session.page.keyboard.press(key)
    except ToolError:
        raise
    except Exception as exc:
        if "Unknown key" in str(exc):
            raise ToolError(
                f"{key!r} is not a key name. Use names like Enter, Tab, Escape, ArrowDown, "
                "Backspace, or combinations like Control+A."
            ) from exc
        raise
    await settle(session)
    where = f" on {ctx.label(ref)}" if ref else ""
    return f"pressed {key}{where}" + what_changed(session, url, pages)


@tool
async def hover(ctx: ToolContext, ref: str) -> str:
    """Move the mouse over an element (opens hover menus and tooltips).

    Args:
        ref: The element's ref from the latest snapshot, like @e3.
    """
    session = ctx.session
    await act(session, ref, lambda t: t.hover(timeout=session.action_timeout_ms))
    return f"hovering over {ctx.label(ref)}"


_OPTIONS_JS = """(el) => el.tagName !== 'SELECT' ? null : Array.from(el.options).map(
  o => ({value: o.value, label: o.label || o.text, disabled: o.disabled}))"""


async def choose_options(
    target: Locator | ElementHandle, label: str, values: list[str]
) -> list[str]:
    """The option values of a native dropdown that ``values`` name, by label or value (exact,
    then ignoring case and surrounding space); a ``ToolError`` naming the options otherwise."""
    options: list[dict[str, Any]] | None = await target.evaluate(_OPTIONS_JS)
    if options is None:
        raise ToolError(
            f"{label} is not a native dropdown. For a custom dropdown, click it and then click "
            "the option in a new snapshot."
        )
    chosen: list[str] = []
    for wanted in values:
        match = next((o for o in options if o["label"] == wanted or o["value"] == wanted), None)
        if match is None:
            folded = wanted.strip().casefold()
            match = next(
                (
                    o
                    for o in options
                    if o["label"].strip().casefold() == folded or o["value"].casefold() == folded
                ),
                None,
            )
        if match is None:
            listed = ", ".join(repr(o["label"]) for o in options[:40])
            raise ToolError(f"{label} has no option {wanted!r}. Its options are: {listed}.")
        if match["disabled"]:
            raise ToolError(f"The option {match['label']!r} of {label} is disabled.")
        chosen.append(match["value"])
    return chosen


@tool
async def select_option(ctx: ToolContext, ref: str, values: list[str]) -> str:
    """Choose options of a native dropdown (<select>) by their visible label or value.

    Args:
        ref: The dropdown's ref from the latest snapshot, like @e3.
        values: The options to choose, by label or value; more than one only for multi-selects.
    """
    session = ctx.session
    chosen = await choose_options(await session.resolve(ref), ref, values)
    await act(
        session,
        ref,
        lambda t: t.select_option(value=chosen, timeout=session.action_timeout_ms),
        pointer=False,
    )
    return f"selected {', '.join(repr(v) for v in values)} in {ctx.label(ref)}"


async def _set_checked(ctx: ToolContext, ref: str, checked: bool) -> str:
    session = ctx.session
    await act(session, ref, lambda t: t.set_checked(checked, timeout=session.action_timeout_ms))
    return f"{'checked' if checked else 'unchecked'} {ctx.label(ref)}"


@tool
async def check(ctx: ToolContext, ref: str) -> str:
    """Tick a checkbox, or choose a radio button or switch (does nothing if already on).

    Args:
        ref: The checkbox, radio or switch ref from the latest snapshot, like @e3.
    """
    return await _set_checked(ctx, ref, True)


@tool
async def uncheck(ctx: ToolContext, ref: str) -> str:
    """Untick a checkbox or switch (does nothing if already off).

    Args:
        ref: The checkbox or switch ref from the latest snapshot, like @e3.
    """
    return await _set_checked(ctx, ref, False)
