"""JavaScript dialogs (``alert``, ``confirm``, ``prompt``) an action opens: caught while it
runs, and answered later by whoever drives the page.

A dialog stops the page until someone answers it. Playwright dismisses one nobody listens for;
while ``catch_dialogs`` runs a call, it listens instead, and returns as soon as the call is done
or a dialog opens, whichever is first: the call then waits, parked, until ``answer_dialog``
accepts or dismisses the dialog. How a face words this (MCP's "modal state") is the face's.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from playwright.async_api import Error as PlaywrightError

from agent.errors import ToolError, first_line
from tools.base import ToolOutcome
from tools.changes import ChangeWatch
from tools.elements import settle

if TYPE_CHECKING:
    from playwright.async_api import Dialog

    from tools.context import ToolContext

__all__ = ["PARKED_CALL_WAIT_S", "answer_dialog", "catch_dialogs", "describe"]

PARKED_CALL_WAIT_S = 3.0
"""How long answering a dialog waits for the call that opened it to finish."""


def describe(dialog: Dialog) -> str:
    """``confirm dialog "Delete?"``, as results name it."""
    text = f'{dialog.type} dialog "{dialog.message}"'
    if dialog.type == "prompt" and dialog.default_value:
        text += f' (default answer "{dialog.default_value}")'
    return text


async def catch_dialogs(
    ctx: ToolContext, call: Callable[[], Awaitable[ToolOutcome]]
) -> tuple[Dialog | None, asyncio.Future[ToolOutcome]]:
    """Run ``call`` until it is done or opens a dialog: the dialog (None when none opened) and
    the call, which, when a dialog opened, may still be running until it is answered."""
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
    except asyncio.CancelledError:  # the caller went away or cancelled the request
        running.cancel()
        raise
    finally:
        context.remove_listener("dialog", on_dialog)
    if not opened.done():
        opened.cancel()
        return None, running
    return opened.result(), running


async def answer_dialog(
    ctx: ToolContext,
    dialog: Dialog,
    accept: bool,
    prompt_text: str | None = None,
    parked: asyncio.Future[ToolOutcome] | None = None,
) -> ToolOutcome:
    """Accept (with ``prompt_text`` for a prompt) or dismiss ``dialog``, let the ``parked``
    call that opened it finish what it was doing (a click's navigation), and say what changed.

    Raises:
        ToolError: the dialog was closed already.
    """
    session = ctx.session
    watch = ChangeWatch(session)
    try:
        if accept:
            await dialog.accept(prompt_text)
        else:
            await dialog.dismiss()
    except PlaywrightError as exc:
        raise ToolError(
            f"The {describe(dialog)} could not be answered ({first_line(exc)}); it was probably "
            "closed already. Take a snapshot to see the page."
        ) from exc
    if parked is not None and not parked.done():
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(parked), PARKED_CALL_WAIT_S)
        if not parked.done():
            parked.cancel()
    await settle(session)
    answer = f" with {prompt_text!r}" if accept and prompt_text is not None else ""
    verb = "accepted" if accept else "dismissed"
    changes = watch.changes()
    return ToolOutcome(f"{verb} the {describe(dialog)}{answer}" + changes.note(), changes=changes)
