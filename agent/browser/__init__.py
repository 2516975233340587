"""The browser core: launching Chromium, the session that owns its page, refs, snapshots, tokens.

Everything above (tools, the planner, executors, the faces) reaches the browser through
``BrowserSession`` and ``Snapshot``; only this package touches Playwright's browser and context
objects directly.
"""

from __future__ import annotations

from agent.browser.launch import QUIET_FLAGS, BrowserProcess, find_chromium, launch_browser
from agent.browser.session import BrowserSession
from agent.browser.snapshot import INTERACTIVE_ROLES, Snapshot, SnapshotMode, Snapshotter
from agent.browser.tokens import TokenCounter, token_counter

__all__ = [
    "INTERACTIVE_ROLES",
    "QUIET_FLAGS",
    "BrowserProcess",
    "BrowserSession",
    "Snapshot",
    "SnapshotMode",
    "Snapshotter",
    "TokenCounter",
    "find_chromium",
    "launch_browser",
    "token_counter",
]
