"""The page a client will look at next, looked at while it thinks.

After a navigation or a click an MCP client nearly always takes a snapshot next (refs of a new
page come only from one). The first snapshot of a new or changed page is the dearest (on a new
document the browser compiles Playwright's snapshot script and computes every element's style
for the first time: a first call took three times a second one on the corpus), and Playwright
MCP pays it inside its navigate and click, whose responses carry a snapshot. Ours return a
short line instead and, under the session's lock while the client's model reads it, do the
browser's side of that snapshot (``Snapshotter.look``: the clickable scan and Playwright's call).

Only the browser's side, never the render: refs are issued when a snapshot is rendered, so a
look the client never reads issues none, and the refs a client sees are the ones it would see
without the warm-up. (Rendering ahead and taking the refs back when nobody read them would have
to undo a registry and the rendered lines parse nodes keep; a look has nothing to undo.)

A client whose plain ``browser_snapshot`` (no ``target``) arrives while the look is under way
gets that look rendered: it was taken after the client's last call had ended, as Playwright
MCP's is. A later one asks the browser again and finds the page warm (the scan follows only
what changed). Any other call abandons a look under way rather than wait for it, and so does a
navigation of the page starting (``agent.mcp.navigations``): Chromium would hold the look's
calls until the new document's response; for the same reason no look starts while one is
pending (the click started it). A dialog a page opens meanwhile is dismissed, as
between any two calls.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from typing import TYPE_CHECKING

from agent.mcp.context import McpToolContext
from agent.mcp.navigations import Navigation, navigation_watch

if TYPE_CHECKING:
    from agent.browser.snapshot import PageLook
    from tools.context import ToolContext

__all__ = [
    "abandon",
    "claim_prepared",
    "navigating",
    "prepare_snapshot",
    "prepared_look",
    "preparing",
]

log = logging.getLogger(__name__)

Preparing = asyncio.Future["PageLook | None"]

_tasks: set[Preparing] = set()  # referenced until done, so none is collected
_claimed: contextvars.ContextVar[PageLook | None] = contextvars.ContextVar(
    "prepared_look", default=None
)


def prepare_snapshot(ctx: ToolContext) -> None:
    """Start looking at the page ``ctx``'s client will most likely take a snapshot of next.

    Called from inside a tool call, which holds the session's lock: the task queues for the lock
    there and then, so it runs as soon as the call ends, before the client's next call.
    """
    if not isinstance(ctx, McpToolContext) or not ctx.prepare_snapshots:
        return
    watch = navigation_watch(ctx.page)
    if navigating(ctx):  # the call started it: the look would wait for its response
        return
    task = asyncio.ensure_future(_prepare(ctx))

    def stop() -> None:
        task.cancel()

    watch.on_start.add(stop)
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    task.add_done_callback(lambda _task: watch.on_start.discard(stop))
    ctx.preparing = task


def navigating(ctx: ToolContext) -> Navigation | None:
    """The navigation the page waits for a response to, if any (``agent.mcp.navigations``)."""
    give_up_after_s = ctx.session.navigation_timeout_ms / 1000
    return navigation_watch(ctx.page).pending(give_up_after_s)


def preparing(ctx: McpToolContext) -> Preparing | None:
    """The look under way as a call arrives (before it waits for the lock), if any."""
    task = ctx.preparing
    return task if task is not None and not task.done() else None


def abandon(ctx: McpToolContext) -> None:
    """Stop the look under way, for a call that will not use it: it must not wait for it."""
    task, ctx.preparing = ctx.preparing, None
    if task is not None:
        task.cancel()


def claim_prepared(ctx: McpToolContext, arrived_during: Preparing | None) -> None:
    """For a call that now holds the lock: the look is its to render if the call arrived while
    it was under way and it was not abandoned; and no later call's either way."""
    task, ctx.preparing = ctx.preparing, None
    ready = task is arrived_during and task is not None and task.done() and not task.cancelled()
    _claimed.set(task.result() if ready and task is not None else None)


def prepared_look() -> PageLook | None:
    """The look this call may render (see ``claim_prepared``), if any."""
    return _claimed.get()


async def _prepare(ctx: McpToolContext) -> PageLook | None:
    session = ctx.session
    try:
        async with session.lock:
            return await session.look()
    except Exception as exc:  # closed meanwhile, navigated away: the client's own call will tell
        log.debug("looking at the page ahead of a snapshot failed: %s", exc)
        return None
