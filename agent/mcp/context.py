"""What one MCP client's calls on one browser session carry: a ``ToolContext`` plus the dialog
the page is blocked on.

A JavaScript dialog (``alert``, ``confirm``, ``prompt``) stops the page until someone answers
it; Playwright MCP calls that a "modal state". The call that opened it is parked here until
``browser_handle_dialog`` answers it, and every other browser tool says so instead of hanging.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tools.context import ToolContext

if TYPE_CHECKING:
    from playwright.async_api import Dialog

    from agent.browser.snapshot import Snapshot
    from tools.base import ToolOutcome

__all__ = ["McpToolContext"]


@dataclass
class McpToolContext(ToolContext):
    """A ``ToolContext`` of one MCP client on one session.

    Attributes:
        dialog: the dialog the page is blocked on, waiting for ``browser_handle_dialog``.
        interrupted: the call that opened ``dialog``; it can only finish once the dialog is
            answered.
        preparing: the snapshot being prepared for the client's next call
            (``agent.mcp.warmup``).
    """

    dialog: Dialog | None = None
    interrupted: asyncio.Future[ToolOutcome] | None = None
    preparing: asyncio.Future[Snapshot | None] | None = None
