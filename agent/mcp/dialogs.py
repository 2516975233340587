"""JavaScript dialogs during MCP calls: caught, reported, and answered by the model.

Playwright dismisses a dialog nobody listens for; while a tool of ours runs, we listen instead,
so the model decides: the call that opened the dialog returns at once saying so (the page is
frozen until it is answered, so waiting would only time out), every other tool refuses until
``browser_handle_dialog`` accepts or dismisses it, and the parked call then finishes. Between
calls nobody listens, so a dialog a timer opens then is dismissed, as Playwright does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from playwright.async_api import Error as PlaywrightError

from agent.errors import ToolError, first_line
from agent.mcp.context import McpToolContext
from tools.base import ToolOutcome, tool
from tools.changes import Changes, ChangeWatch
from tools.elements import settle

if TYPE_CHECKING:
    from playwright.async_api import Dialog

__all__ = ["blocked_message", "browser_handle_dialog", "describe", "run_catching_dialogs"]

log = logging.getLogger(__name__)

_PARKED_CALL_WAIT_S = 3.0
"""How long answering a dialog waits for the call that opened it to finish."""


def describe(dialog: Dialog) -> str:
    """``confirm dialog "Delete?"``, as results name it."""
    text = f'{dialog.type} dialog "{dialog.message}"'
    if dialog.type == "prompt" and dialog.default_value:
        text += f' (default answer "{dialog.default_value}")'
    return text


def blocked_message(ctx: McpToolContext, tool_name: str) -> str | None:
    """Why ``tool_name`` cannot run now: a dialog blocks the page; None when none does."""
    if ctx.dialog is None:
        return None
    return (
        f"A {describe(ctx.dialog)} is open and blocks the page, so {tool_name} cannot run. "
        "Answer it first with browser_handle_dialog (accept: true or false)."
    )


async def run_catching_dialogs(
    ctx: McpToolContext, tool_name: str, call: Callable[[], Awaitable[ToolOutcome]]
) -> ToolOutcome:
    """Run ``call``; if it opens a dialog, return at once saying so and park the call on
    ``ctx`` until the dialog is answered."""
    opened: asyncio.Future[Dialog] = asyncio.get_running_loop().create_future()

    def on_dialog(dialog: Dialog) -> None:
        if opened.done():  # only one can be open: the page is frozen until it is answered
            return
        opened.set_result(dialog)

    context = ctx.session.context
    context.on("dialog", on_dialog)
    running = asyncio.ensure_future(call())
    try:
        either: list[asyncio.Future[Any]] = [running, opened]
        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:  # the client went away or cancelled the request
        running.cancel()
        raise
    finally:
        context.remove_listener("dialog", on_dialog)
    if not opened.done():
        opened.cancel()
        return running.result()
    dialog = opened.result()
    ctx.dialog = dialog
    note = (
        f"a {describe(dialog)} opened and blocks the page: answer it with "
        "browser_handle_dialog (accept: true or false) before anything else"
    )
    if running.done():
        outcome = running.result()
        return replace(
            outcome,
            content=f"{outcome.content}; {note}",
            changes=replace(outcome.changes, dialog=describe(dialog)),
        )
    ctx.interrupted = running
    running.add_done_callback(_log_parked_failure)
    return ToolOutcome(
        f"{tool_name} is waiting on the page: {note}.", changes=Changes(dialog=describe(dialog))
    )


def _log_parked_failure(call: asyncio.Future[ToolOutcome]) -> None:
    # A parked click usually times out while the dialog waits for the model; nobody awaits it.
    if not call.cancelled() and call.exception() is not None:
        log.debug("the call a dialog interrupted ended with %s", call.exception())


@tool
async def browser_handle_dialog(
    ctx: McpToolContext, accept: bool, promptText: str | None = None
) -> str:
    """Answer the JavaScript dialog (alert, confirm, prompt) that blocks the page.

    Args:
        accept: Accept it (OK) or dismiss it (Cancel).
        promptText: For a prompt dialog: the text to answer with.
    """
    dialog = ctx.dialog
    if dialog is None:
        raise ToolError("No dialog is open, so there is nothing to answer.")
    session = ctx.session
    watch = ChangeWatch(session)
    ctx.dialog = None
    try:
        if accept:
            await dialog.accept(promptText)
        else:
            await dialog.dismiss()
    except PlaywrightError as exc:
        raise ToolError(
            f"The {describe(dialog)} could not be answered ({first_line(exc)}); it was probably "
            "closed already. Take a snapshot to see the page."
        ) from exc
    parked, ctx.interrupted = ctx.interrupted, None
    if parked is not None and not parked.done():
        # Let the call finish what it was doing (a click's navigation, say) before the next one.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(parked), _PARKED_CALL_WAIT_S)
        if not parked.done():
            parked.cancel()
    await settle(session)
    answer = f" with {promptText!r}" if accept and promptText is not None else ""
    verb = "accepted" if accept else "dismissed"
    return f"{verb} the {describe(dialog)}{answer}" + watch.changes().note()
