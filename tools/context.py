"""What one run of tool calls carries with it: the session, the snapshot budget, and the
snapshot the caller last saw.

A caller makes one ``ToolContext`` per run (a planner run, a code run's ``agent browser``
commands, an MCP connection) and passes it to every call, so two callers of one session never
share a budget or a last snapshot, and nothing per-run is parked on the session itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from agent.browser.grammar import format_ref, parse_ref

if TYPE_CHECKING:
    from playwright.async_api import Page

    from agent.browser.session import BrowserSession
    from agent.browser.snapshot import PageLook, Snapshot, SnapshotMode

__all__ = ["ToolContext"]


@dataclass
class ToolContext:
    """The session a run acts on, and what the run has seen of it.

    Attributes:
        session: the browser session whose current page the tools act on.
        max_snapshot_tokens: the token cap of snapshots the tools take; None for no cap.
        last_snapshot: the latest snapshot shown to the caller; result messages name elements
            as it showed them (``clicked @e5 button "Go"``).
        selectors: whether a target may be a selector besides a ref, and what it must match
            (``tools.targets``): None for refs only (the planner: its model sees refs), ``one``
            for exactly one element (MCP), ``first`` for the first match (``agent browser``).
    """

    session: BrowserSession
    max_snapshot_tokens: int | None = None
    last_snapshot: Snapshot | None = None
    selectors: Literal["one", "first"] | None = None

    @property
    def page(self) -> Page:
        """The session's current page."""
        return self.session.page

    def label(self, ref: str) -> str:
        """``@e5 button "Go"`` as the last snapshot showed the element, else ``@e5``."""
        number = parse_ref(ref)
        line = self.last_snapshot.refs.get(number) if self.last_snapshot else None
        return line or format_ref(number)

    async def snapshot(
        self,
        *,
        mode: SnapshotMode = "full",
        scope: str | None = None,
        page_number: int = 1,
        max_depth: int | None = None,
        max_tokens: int | None = None,
        looked: PageLook | None = None,
    ) -> Snapshot:
        """A snapshot within this run's budget (or ``max_tokens``, when a caller asks for another
        cap for this one snapshot); it becomes the run's last snapshot. ``looked``: what the
        browser gave for the page a moment ago, to render instead of asking it again."""
        shot = await self.session.snapshot(
            mode=mode,
            scope=scope,
            max_tokens=max_tokens if max_tokens is not None else self.max_snapshot_tokens,
            page_number=page_number,
            max_depth=max_depth,
            looked=looked,
        )
        self.last_snapshot = shot
        return shot
