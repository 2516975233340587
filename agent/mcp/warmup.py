"""The snapshot a client will ask for next, prepared while it thinks.

After a navigation or a click an MCP client nearly always takes a snapshot next (refs of a new
page come only from one). The first snapshot of a new or changed page is the dearest (on a new
document the browser compiles Playwright's snapshot script and computes every element's style
for the first time: a first call took three times a second one on the corpus), and Playwright
MCP pays it inside its navigate and click, whose responses carry a snapshot. Ours return a
short line instead and take that snapshot in the background, under the session's lock, while
the client's model reads the line. The client's own snapshot then finds the page warm, and when
nothing changed meanwhile, the render and its fit into the token cap ready.

A client that asks while the snapshot is still being prepared (no think time) gets that one:
it was started after the client's last call had ended, as Playwright MCP's is. Otherwise the
prepared one is never shown: the client's snapshot is taken when it asks, so it shows the page
as it is then, and ``ctx.last_snapshot`` (what ``mode="changes"`` compares with) is left alone
meanwhile. A dialog a page opens meanwhile is dismissed, as between any two calls.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from typing import TYPE_CHECKING

from agent.mcp.context import McpToolContext

if TYPE_CHECKING:
    from agent.browser.snapshot import Snapshot
    from tools.context import ToolContext

__all__ = ["claim_prepared", "prepare_snapshot", "prepared_snapshot", "preparing"]

log = logging.getLogger(__name__)

Preparing = asyncio.Future["Snapshot | None"]

_tasks: set[Preparing] = set()  # referenced until done, so none is collected
_claimed: contextvars.ContextVar[Snapshot | None] = contextvars.ContextVar(
    "prepared_snapshot", default=None
)


def prepare_snapshot(ctx: ToolContext) -> None:
    """Start the snapshot ``ctx``'s client will most likely ask for next.

    Called from inside a tool call, which holds the session's lock: the task queues for the lock
    there and then, so it runs as soon as the call ends, before the client's next call.
    """
    if not isinstance(ctx, McpToolContext):
        return
    task = asyncio.ensure_future(_prepare(ctx))
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    ctx.preparing = task


def preparing(ctx: McpToolContext) -> Preparing | None:
    """The snapshot being prepared as a call arrives (before it waits for the lock), if any."""
    task = ctx.preparing
    return task if task is not None and not task.done() else None


def claim_prepared(ctx: McpToolContext, arrived_during: Preparing | None) -> None:
    """For a call that now holds the lock: the prepared snapshot is its to take if the call
    arrived while it was being prepared; and no later call's either way."""
    task, ctx.preparing = ctx.preparing, None
    ready = task is arrived_during and task is not None and task.done() and not task.cancelled()
    _claimed.set(task.result() if ready and task is not None else None)


def prepared_snapshot() -> Snapshot | None:
    """The prepared snapshot this call may show (see ``claim_prepared``), if any."""
    return _claimed.get()


async def _prepare(ctx: McpToolContext) -> Snapshot | None:
    session = ctx.session
    previous = ctx.last_snapshot
    try:
        async with session.lock:
            return await session.snapshot(
                mode=previous.mode if previous else "full", max_tokens=ctx.max_snapshot_tokens
            )
    except Exception as exc:  # closed meanwhile, navigated away: the client's own call will tell
        log.debug("preparing the next snapshot failed: %s", exc)
        return None
