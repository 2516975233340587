"""Keeping a DevTools client inside one browser context of a browser that others share.

A remote browser endpoint with a capacity above one (a Chrome with ``--remote-debugging-port``,
a Browserless pool, a Playwright browser server) holds several sessions, each in a browser
context of its own. Whatever a session hands out (its ``cdpUrl``, its code's connection) must
reach its own context and nothing else, so the router puts every client of such a session
behind a ``Confinement``:

* **commands** on a browser session (the one the router gave the client, and any more it
  attaches with ``Target.attachToBrowserTarget``) are allowed from a short list, and so are
  those of the browser-wide domains (``Target``, ``Browser``) on every other session the client
  holds (a page's, a worker's, at any depth), since Chromium serves ``Target.getTargets``,
  ``createTarget`` and ``attachToTarget`` on a page's session too; creating or disposing
  contexts, closing the browser and browser-wide tracing are refused; a ``browserContextId``
  other than the session's is refused on any session, and commands that take one where
  Chromium accepts it (creating a tab, cookies, downloads, permissions) get the session's own
  forced in; commands naming a target (attach, close, activate, auto-attach) must name one of
  the context's;
* **answers** listing targets or contexts list the context's only;
* **events** about targets of other contexts are dropped; a target of another context that
  auto-attach attached anyway is let go (resumed if it waits for a debugger, then detached), so
  it neither shows nor stays paused; download events (Chromium sends them to every browser
  session that asked, whichever context downloads) show only for downloads of the context's
  own pages.

The context of each target is learned from the targets' own events, which the router's root
session subscribes to (``Target.setDiscoverTargets``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["Confinement"]

_WITH_CONTEXT = frozenset(
    {
        "Target.createTarget", "Storage.getCookies", "Storage.setCookies", "Storage.clearCookies",
        "Browser.setDownloadBehavior", "Browser.grantPermissions", "Browser.resetPermissions",
        "Browser.setPermission", "Browser.cancelDownload",
    }
)  # fmt: skip
_NAMING_A_TARGET = frozenset(
    {
        "Target.attachToTarget", "Target.activateTarget", "Target.closeTarget",
        "Target.getTargetInfo", "Browser.getWindowForTarget", "Target.autoAttachRelated",
        "Target.detachFromTarget",
    }
)  # fmt: skip
# Chromium takes a browserContextId for these on a page's session too (elsewhere only on the
# browser's: "browserContextId is only allowed for Browser target").
_CONTEXT_ON_ANY_SESSION = frozenset({"Target.createTarget"})
# Domains whose commands reach the whole browser from whichever session they are sent on.
_BROWSER_WIDE = ("Target.", "Browser.")
_ALLOWED = _WITH_CONTEXT | _NAMING_A_TARGET | frozenset(
    {
        "Browser.getVersion", "Browser.getWindowBounds", "Browser.setWindowBounds",
        "Target.setAutoAttach", "Target.setDiscoverTargets", "Target.getTargets",
        "Target.getBrowserContexts", "Target.detachFromTarget", "Target.autoAttachRelated",
        "Target.attachToBrowserTarget", "Runtime.runIfWaitingForDebugger",
    }
)  # fmt: skip
_TARGET_EVENTS = frozenset(
    {"Target.targetCreated", "Target.targetInfoChanged", "Target.attachedToTarget"}
)


class Confinement:
    """The rules for clients confined to browser context ``context_id``."""

    def __init__(self, context_id: str) -> None:
        self.context_id = context_id
        self._context_of: dict[str, str] = {}  # targetId -> browserContextId
        self._downloads: set[str] = set()  # guids of the context's own downloads

    # -- what the router learns ---------------------------------------------------------------

    def learn(self, message: dict[str, Any]) -> None:
        """Note the context of the target an event is about (any session's event)."""
        method = message.get("method")
        params = message.get("params") or {}
        info = params.get("targetInfo")
        if method in _TARGET_EVENTS and isinstance(info, dict):
            context = info.get("browserContextId")
            if isinstance(context, str) and isinstance(info.get("targetId"), str):
                self._context_of[info["targetId"]] = context
        elif method == "Target.targetDestroyed" and isinstance(params.get("targetId"), str):
            self._context_of.pop(params["targetId"], None)

    def owns_target(self, target_id: object) -> bool:
        return isinstance(target_id, str) and self._context_of.get(target_id) == self.context_id

    # -- a client's browser-level commands ------------------------------------------------------

    def refusal(self, method: str, params: dict[str, Any], *, browser_level: bool) -> str | None:
        """Why a command would reach beyond the context (CDP's error message), or None when it
        may go, the context forced into ``params`` where it names one. ``browser_level``: it
        is sent on a session of the browser target, not a page's or a worker's."""
        if (browser_level or method.startswith(_BROWSER_WIDE)) and method not in _ALLOWED:
            return f"{method} is not allowed for this client on a shared browser."
        if params.get("browserContextId") not in (None, self.context_id):
            return "No browser context with given id found."
        if method in _WITH_CONTEXT and (browser_level or method in _CONTEXT_ON_ANY_SESSION):
            params["browserContextId"] = self.context_id
        # Without a targetId these act on the session's own target.
        target = params.get("targetId")
        if method in _NAMING_A_TARGET and target is not None and not self.owns_target(target):
            return "No target with given id found."
        return None

    def answer(self, method: str, result: dict[str, Any]) -> dict[str, Any]:
        """Narrow an answer to the context: its targets, its one context."""
        if method == "Target.getTargets" and isinstance(result.get("targetInfos"), list):
            result["targetInfos"] = [
                info
                for info in result["targetInfos"]
                if isinstance(info, dict) and info.get("browserContextId") == self.context_id
            ]
        elif method == "Target.getBrowserContexts":
            result["browserContextIds"] = [self.context_id]
        return result

    # -- events -----------------------------------------------------------------------------------

    def shows(self, message: dict[str, Any]) -> bool:
        """Whether a client may see an event (events not about a target always pass)."""
        method = message.get("method")
        params = message.get("params") or {}
        if method in _TARGET_EVENTS:
            info = params.get("targetInfo") or {}
            if info.get("type") == "browser":
                return True  # a browser session of the client's own (attachToBrowserTarget)
            return info.get("browserContextId") == self.context_id
        if method in ("Target.targetDestroyed", "Target.targetCrashed"):
            return self.owns_target(params.get("targetId")) or params.get("targetId") is None
        if method == "Target.detachedFromTarget":
            return params.get("targetId") is None or self.owns_target(params.get("targetId"))
        if method == "Browser.downloadWillBegin":
            # A page's main frame has its target's id; a download of a subframe cannot be told
            # apart from another context's, so it is not shown.
            if not self.owns_target(params.get("frameId")):
                return False
            self._downloads.add(str(params.get("guid")))
        elif method == "Browser.downloadProgress":
            return params.get("guid") in self._downloads
        return True
