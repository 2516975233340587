"""What one MCP client's calls on one browser session carry: a ``ToolContext`` plus the dialog
the page is blocked on.

A JavaScript dialog (``alert``, ``confirm``, ``prompt``) stops the page until someone answers
it; Playwright MCP calls that a "modal state". The call that opened it is parked here until
``browser_handle_dialog`` answers it, and every other browser tool says so instead of hanging.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from tools.context import ToolContext

if TYPE_CHECKING:
    from playwright.async_api import Dialog

    from agent.browser.snapshot import PageLook
    from tools.base import ToolOutcome

__all__ = ["McpToolContext"]


@dataclass
class McpToolContext(ToolContext):
    """A ``ToolContext`` of one MCP client on one session.

    Attributes:
        dialog: the dialog the page is blocked on, waiting for ``browser_handle_dialog``.
        interrupted: the call that opened ``dialog``; it can only finish once the dialog is
            answered.
        prepare_snapshots: whether to look at the page after a navigation or a click, while
            the client thinks (``agent.mcp.warmup``).
        preparing: that look, for the client's next call.
    """

    selectors: Literal["one", "first"] | None = "one"  # Playwright MCP's "unique selector"
    dialog: Dialog | None = None
    interrupted: asyncio.Future[ToolOutcome] | None = None
    prepare_snapshots: bool = True
    preparing: asyncio.Future[PageLook | None] | None = None
