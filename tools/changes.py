"""What an action changed besides its element: a navigation, a new tab, a dialog.

Every face reports it (the planner and MCP as the tail of a result, ``agent browser`` the same,
scrape actions by moving on to the new tab), so it is measured once: a ``ChangeWatch`` taken
before the action, read after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent.browser.session import BrowserSession

__all__ = ["ChangeWatch", "Changes"]


@dataclass(frozen=True)
class Changes:
    """What an action changed; all None when it changed nothing of these.

    Attributes:
        navigated_to: the URL the current tab navigated to.
        new_tab: the URL of a tab the action opened (it is the current page now).
        dialog: a JavaScript dialog the action opened (``confirm dialog "Delete?"``).
    """

    navigated_to: str | None = None
    new_tab: str | None = None
    dialog: str | None = None

    def note(self) -> str:
        """The tail results end with (``; the page navigated to URL``); empty when nothing
        changed. A dialog is worded by the face that lets its caller answer it."""
        if self.new_tab is not None:
            return f"; a new tab opened and is now the current page: {self.new_tab}"
        if self.navigated_to is not None:
            return f"; the page navigated to {self.navigated_to}"
        return ""


class ChangeWatch:
    """The page's URL and the number of tabs before an action, to compare with after it."""

    def __init__(self, session: BrowserSession) -> None:
        self.session = session
        self.url = session.page.url
        self.tabs = len(session.tabs)

    def changes(self) -> Changes:
        """What changed since the watch began."""
        session = self.session
        if len(session.tabs) > self.tabs:
            return Changes(new_tab=session.page.url)
        if session.page.url != self.url:
            return Changes(navigated_to=session.page.url)
        return Changes()
