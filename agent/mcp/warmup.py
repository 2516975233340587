"""The snapshot a client will ask for next, prepared while it thinks.

After a navigation or a click an MCP client nearly always takes a snapshot next (refs of a new
page come only from one). The first snapshot of a new or changed page is the dearest (on a new
document the browser compiles Playwright's snapshot script and computes every element's style
for the first time: a first call took three times a second one on the corpus), and Playwright
MCP pays it inside its navigate and click, whose responses carry a snapshot. Ours return a
short line instead and take that snapshot in the background, under the session's lock, while
the client's model reads the line. The client's own snapshot then finds the page warm, and when
nothing changed meanwhile, the render and its fit into the token cap ready.

The prepared snapshot is never shown: the client's snapshot is taken when it asks, as always,
so it shows the page as it is then; ``ctx.last_snapshot`` (what ``mode="changes"`` compares
with) is left alone. A dialog a page opens meanwhile is dismissed, as between any two calls.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tools.context import ToolContext

__all__ = ["prepare_snapshot"]

log = logging.getLogger(__name__)

_preparing: set[asyncio.Task[None]] = set()  # referenced until done, so none is collected


def prepare_snapshot(ctx: ToolContext) -> None:
    """Start the snapshot ``ctx``'s client will most likely ask for next.

    Called from inside a tool call, which holds the session's lock: the task queues for the lock
    there and then, so it runs as soon as the call ends, before the client's next call.
    """
    task = asyncio.ensure_future(_prepare(ctx))
    _preparing.add(task)
    task.add_done_callback(_preparing.discard)


async def _prepare(ctx: ToolContext) -> None:
    session = ctx.session
    previous = ctx.last_snapshot
    try:
        async with session.lock:
            await session.snapshot(
                mode=previous.mode if previous else "full", max_tokens=ctx.max_snapshot_tokens
            )
    except Exception as exc:  # closed meanwhile, navigated away: the client's own call will tell
        log.debug("preparing the next snapshot failed: %s", exc)
