"""Playwright MCP's element tools, under its names and argument names, on our refs and helpers.

Each is a typed async function of a ``ToolContext`` whose schema ``@tool`` generates, like the
planner's own tools; they map Playwright MCP's arguments (``target``, ``text``, ``values``,
``fields``) onto the shared actions of ``tools.element_actions``, a target through
``tools.targets`` (a ref, or a selector matching exactly one element), so stale refs, covered,
hidden and disabled elements fail the same way for every caller. ``element``, Playwright MCP's
human-readable description "used to obtain permission", is accepted and not needed: the target
alone says which element. Results say what happened and what changed (a navigation, a new tab),
never a whole snapshot. Argument names are camelCase where Playwright MCP's are, so that clients
written for it work unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.errors import ToolError
from agent.mcp.warmup import prepare_snapshot
from tools import element_actions as act
from tools.base import ToolOutcome, tool
from tools.changes import ChangeWatch
from tools.targets import found_by

if TYPE_CHECKING:
    from tools.context import ToolContext

__all__ = [
    "FormField",
    "browser_click",
    "browser_fill_form",
    "browser_hover",
    "browser_press_key",
    "browser_select_option",
    "browser_type",
]

Modifier = Literal["Alt", "Control", "ControlOrMeta", "Meta", "Shift"]


@tool
async def browser_click(
    ctx: ToolContext,
    target: str,
    element: str | None = None,
    doubleClick: bool = False,
    button: Literal["left", "right", "middle"] | None = None,
    modifiers: list[Modifier] | None = None,
) -> ToolOutcome:
    """Click an element of the page.

    Args:
        target: The element's ref from the latest browser_snapshot (like @e3 or e3), or a
            selector that matches exactly one element.
        element: A human-readable description of the element (optional; not needed to find it).
        doubleClick: Double-click instead of a single click.
        button: The mouse button; left by default.
        modifiers: Modifier keys to hold while clicking.
    """
    clicked = await act.click(
        ctx, await found_by(ctx, target), double=doubleClick, button=button, modifiers=modifiers
    )
    prepare_snapshot(ctx)  # a click is what changes pages: the client looks next
    return clicked


@tool
async def browser_type(
    ctx: ToolContext,
    target: str,
    text: str,
    element: str | None = None,
    submit: bool = False,
    slowly: bool = False,
) -> ToolOutcome:
    """Type text into an editable element; it replaces what the field holds unless slowly is set.

    Args:
        target: The field's ref from the latest browser_snapshot (like @e3), or a selector that
            matches exactly one element.
        text: The text to type.
        element: A human-readable description of the field (optional).
        submit: Press Enter after typing.
        slowly: Type one key at a time where the caret is, for pages that react to each key
            (autocomplete); by default the whole text is filled in at once.
    """
    found = await found_by(ctx, target)
    if slowly:
        return await act.type_into(ctx, found, text, submit=submit, at_end=False)
    return await act.fill(ctx, found, text, submit=submit)


class FormField(BaseModel):
    """One field of a form to fill."""

    model_config = ConfigDict(extra="forbid")

    element: str | None = Field(
        default=None, description="A human-readable description of the field (optional)."
    )
    target: str = Field(
        description="The field's ref from the latest browser_snapshot (like @e3), or a selector "
        "that matches exactly one element."
    )
    name: str = Field(description="A human-readable name of the field.")
    type: Literal["textbox", "checkbox", "radio", "combobox", "slider"] = Field(
        description="What kind of field it is."
    )
    value: str = Field(
        description="The value to put in: the text of a textbox or slider, true or false for a "
        "checkbox or radio, the option's label for a combobox."
    )


@tool
async def browser_fill_form(ctx: ToolContext, fields: list[FormField]) -> ToolOutcome:
    """Fill several form fields at once: textboxes, checkboxes, radios, dropdowns, sliders.

    Args:
        fields: The fields to fill, in order.
    """
    watch = ChangeWatch(ctx.session)
    done: list[str] = []
    for field in fields:
        try:
            done.append(await _fill_field(ctx, field))
        except ToolError as exc:
            so_far = f" ({'; '.join(done)})" if done else ""
            raise ToolError(
                f"Filled {len(done)} of {len(fields)} fields{so_far}; field {field.name!r} "
                f"failed: {exc}"
            ) from exc
    changes = watch.changes()
    return ToolOutcome("; ".join(done) + changes.note(), changes=changes)


async def _fill_field(ctx: ToolContext, field: FormField) -> str:
    """One field's part of the result, without what changed (said once, for the form)."""
    found = await found_by(ctx, field.target)
    if field.type in ("checkbox", "radio"):
        wanted = field.value.strip().lower()
        if wanted not in ("true", "false"):
            raise ToolError(f"the value of a {field.type} is true or false, not {field.value!r}.")
        on = wanted == "true"
        if field.type == "radio" and not on:
            raise ToolError("a radio button cannot be turned off; choose another one instead.")
        done = await act.set_checked(ctx, found, on)
    elif field.type == "combobox":
        done = await act.select(ctx, found, [field.value])
    else:
        done = await act.fill(ctx, found, field.value)
    return done.content.removesuffix(done.changes.note())


@tool
async def browser_press_key(ctx: ToolContext, key: str) -> str | ToolOutcome:
    """Press a key on the keyboard, on whatever has focus.

    Args:
        key: A key name such as Enter, Tab, Escape, ArrowLeft or PageDown, a character such as
            a, or a combination such as Control+A.
    """
    return await act.press(ctx, key)


@tool
async def browser_hover(ctx: ToolContext, target: str, element: str | None = None) -> ToolOutcome:
    """Move the mouse over an element (opens hover menus and tooltips).

    Args:
        target: The element's ref from the latest browser_snapshot (like @e3), or a selector
            that matches exactly one element.
        element: A human-readable description of the element (optional).
    """
    return await act.hover(ctx, await found_by(ctx, target))


@tool
async def browser_select_option(
    ctx: ToolContext, target: str, values: list[str], element: str | None = None
) -> ToolOutcome:
    """Select options in a dropdown (<select>), by their visible label or value.

    Args:
        target: The dropdown's ref from the latest browser_snapshot (like @e3), or a selector
            that matches exactly one element.
        values: The options to select; more than one only for a multi-select.
        element: A human-readable description of the dropdown (optional).
    """
    return await act.select(ctx, await found_by(ctx, target), values)
