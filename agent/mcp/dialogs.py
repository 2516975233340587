"""JavaScript dialogs during MCP calls: caught, reported, and answered by the model, in MCP's
words over ``tools.dialogs``.

Playwright dismisses a dialog nobody listens for; while a tool of ours runs, we listen instead,
so the model decides: the call that opened the dialog returns at once saying so (the page is
frozen until it is answered, so waiting would only time out), every other tool refuses until
``browser_handle_dialog`` accepts or dismisses it, and the parked call then finishes. Between
calls nobody listens, so a dialog a timer opens then is dismissed, as Playwright does.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from agent.errors import ToolError
from agent.mcp.context import McpToolContext
from tools.base import ToolOutcome, tool
from tools.changes import Changes
from tools.dialogs import answer_dialog, catch_dialogs, describe

if TYPE_CHECKING:
    import asyncio

__all__ = ["blocked_message", "browser_handle_dialog", "describe", "run_catching_dialogs"]

log = logging.getLogger(__name__)


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
    dialog, running = await catch_dialogs(ctx, call)
    if dialog is None:
        return running.result()
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
) -> ToolOutcome:
    """Answer the JavaScript dialog (alert, confirm, prompt) that blocks the page.

    Args:
        accept: Accept it (OK) or dismiss it (Cancel).
        promptText: For a prompt dialog: the text to answer with.
    """
    dialog = ctx.dialog
    if dialog is None:
        raise ToolError("No dialog is open, so there is nothing to answer.")
    ctx.dialog = None
    parked, ctx.interrupted = ctx.interrupted, None
    return await answer_dialog(ctx, dialog, accept, promptText, parked)
