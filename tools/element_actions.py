"""The actions on one element every face offers: click, fill, type, press, hover, select, check.

Each takes an element a target named (``tools.targets.resolve``), checks it can be acted on,
acts, waits for the page to settle and returns a ``ToolOutcome``: the result in the words the
planner's tools have always used (``clicked @e5 button "Go"``), ending with what changed (a
navigation, a new tab). The planner's tools, MCP's ``browser_*`` tools, ``agent browser`` and the
scrape actions call these and only word the outcome their own way; none of them calls a
Playwright action itself (``tests/tools/test_action_ownership.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from agent.errors import ToolError
from tools.base import ToolOutcome
from tools.changes import ChangeWatch
from tools.elements import act_on, settle

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from playwright.async_api import ElementHandle, Locator

    from tools.context import ToolContext
    from tools.targets import Found

__all__ = [
    "MouseButton",
    "argument_free",
    "choose_options",
    "click",
    "fill",
    "focus",
    "hover",
    "press",
    "scroll_into_view",
    "select",
    "send_keys",
    "set_checked",
    "type_into",
]

MouseButton = Literal["left", "right", "middle"]

_FOLLOWS_A_LINK = frozenset({"Enter", "Space", " "})
"""Keys that follow a focused link or submit a focused form's button, as a click does."""


def _outcome(text: str, watch: ChangeWatch) -> ToolOutcome:
    changes = watch.changes()
    return ToolOutcome(text + changes.note(), changes=changes)


async def _act(
    ctx: ToolContext,
    found: Found,
    action: Callable[[Locator | ElementHandle], Awaitable[Any]],
    done: str,
    *,
    pointer: bool = True,
    opens_tab: bool | None = None,
) -> ToolOutcome:
    """Run ``action`` on the element through ``act_on``; ``done``, and what changed."""
    watch = ChangeWatch(ctx.session)
    await act_on(
        ctx.session, found.element, found.label, action, pointer=pointer, opens_tab=opens_tab
    )
    return _outcome(done, watch)


async def click(
    ctx: ToolContext,
    found: Found,
    *,
    double: bool = False,
    button: MouseButton | None = None,
    modifiers: list[Any] | None = None,
) -> ToolOutcome:
    """Click (or double-click) the element, with a mouse button and modifier keys."""
    session = ctx.session
    options: dict[str, Any] = {"timeout": session.action_timeout_ms}
    if button:
        options["button"] = button
    if modifiers:
        options["modifiers"] = modifiers

    async def clicking(t: Locator | ElementHandle) -> None:
        await (t.dblclick(**options) if double else t.click(**options))

    return await _act(
        ctx, found, clicking, f"{'double-clicked' if double else 'clicked'} {found.label}"
    )


async def fill(ctx: ToolContext, found: Found, value: str, *, submit: bool = False) -> ToolOutcome:
    """Replace what a field holds with ``value``; press Enter after it with ``submit``."""
    timeout = ctx.session.action_timeout_ms

    async def filling(t: Locator | ElementHandle) -> None:
        await t.fill(value, timeout=timeout)

    return await _enter(ctx, found, filling, f"filled {found.label} with {value!r}", submit)


async def type_into(
    ctx: ToolContext,
    found: Found,
    text: str,
    *,
    submit: bool = False,
    at_end: bool = True,
) -> ToolOutcome:
    """Type ``text`` key by key into a field: after what it holds (``at_end``), or where the
    caret is; press Enter after it with ``submit``."""
    session = ctx.session

    async def typing(t: Locator | ElementHandle) -> None:
        await t.focus()
        if at_end:
            await t.press("End", timeout=session.action_timeout_ms)
        await session.page.keyboard.type(text)

    return await _enter(ctx, found, typing, f"typed {text!r} into {found.label}", submit)


async def _enter(
    ctx: ToolContext,
    found: Found,
    put: Callable[[Locator | ElementHandle], Awaitable[None]],
    done: str,
    submit: bool,
) -> ToolOutcome:
    """Put text into a field with ``put``, then press Enter on it with ``submit`` and wait for
    what that set off (a form sent, a search run)."""
    session = ctx.session

    async def entering(t: Locator | ElementHandle) -> None:
        await put(t)
        if submit:
            await t.press("Enter", timeout=session.action_timeout_ms)
            await settle(session)

    done += " and pressed Enter" if submit else ""
    return await _act(ctx, found, entering, done, pointer=False)


async def press(ctx: ToolContext, key: str, found: Found | None = None) -> ToolOutcome:
    """Press a key (or a combination such as Control+A) on the element, or on whatever has
    focus when ``found`` is None."""
    session = ctx.session
    watch = ChangeWatch(session)
    try:
        if found is not None:
            await act_on(
                session,
                found.element,
                found.label,
                lambda t: t.press(key, timeout=session.action_timeout_ms),
                pointer=False,
                opens_tab=key in _FOLLOWS_A_LINK,
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
    where = f" on {found.label}" if found is not None else ""
    return _outcome(f"pressed {key}{where}", watch)


async def hover(ctx: ToolContext, found: Found) -> ToolOutcome:
    """Move the mouse over the element (opens hover menus and tooltips)."""
    timeout = ctx.session.action_timeout_ms
    return await _act(
        ctx,
        found,
        lambda t: t.hover(timeout=timeout),
        f"hovering over {found.label}",
        opens_tab=False,  # a hover over a target=_blank link opens nothing: no wait for a tab
    )


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


async def select(ctx: ToolContext, found: Found, values: list[str]) -> ToolOutcome:
    """Choose options of a native dropdown by their label or value."""
    timeout = ctx.session.action_timeout_ms
    chosen = await choose_options(found.element, found.label, values)
    return await _act(
        ctx,
        found,
        lambda t: t.select_option(value=chosen, timeout=timeout),
        f"selected {', '.join(repr(v) for v in values)} in {found.label}",
        pointer=False,
    )


async def set_checked(ctx: ToolContext, found: Found, checked: bool) -> ToolOutcome:
    """Tick or untick a checkbox or switch, or choose a radio button."""
    timeout = ctx.session.action_timeout_ms
    return await _act(
        ctx,
        found,
        lambda t: t.set_checked(checked, timeout=timeout),
        f"{'checked' if checked else 'unchecked'} {found.label}",
    )


async def focus(ctx: ToolContext, found: Found) -> ToolOutcome:
    """Give the element the keyboard focus (what a recipe's later key presses go to)."""
    await found.element.focus()
    return ToolOutcome(f"focused {found.label}")


async def scroll_into_view(ctx: ToolContext, found: Found) -> ToolOutcome:
    """Scroll the page until the element is in view."""
    await found.element.scroll_into_view_if_needed(timeout=ctx.session.action_timeout_ms)
    return ToolOutcome(f"scrolled {found.label} into view")


async def send_keys(
    ctx: ToolContext,
    found: Found | None,
    *,
    text: str | None = None,
    key: str | None = None,
    settle_after: bool = True,
) -> None:
    """Type ``text`` or press ``key`` where the keyboard is: on ``found``, the focused element
    (checked like any element acted on first), or at the page when None.

    Raises:
        ToolError: the focused element cannot take keys (hidden, disabled).
        PlaywrightError: ``key`` is no key name ("Unknown key"), for the face to word.
    """
    keyboard = ctx.page.keyboard

    async def sending(_: object = None) -> None:
        if text is not None:
            await keyboard.type(text)
        if key is not None:
            await keyboard.press(key)

    if found is None:
        await sending()
    else:
        await act_on(ctx.session, found.element, found.label, sending, pointer=False)
    if settle_after:
        await settle(ctx.session)


def argument_free(
    ctx: ToolContext, found: Found
) -> dict[str, Callable[[], Awaitable[ToolOutcome]]]:
    """The actions on ``found`` that take no argument, by the names agent-browser gives them
    (``agent browser find``) and a recipe records (its replay): one table for both."""
    return {
        "click": lambda: click(ctx, found),
        "dblclick": lambda: click(ctx, found, double=True),
        "hover": lambda: hover(ctx, found),
        "check": lambda: set_checked(ctx, found, True),
        "uncheck": lambda: set_checked(ctx, found, False),
    }
