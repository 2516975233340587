"""What a DevTools client may not do to the machine its browser runs on.

Chromium runs outside the code sandbox, and DevTools is a remote control for all of it. A
client that could open a ``file://`` page, hand a file input the server's files, choose where
downloads are written, load an extension or open a DevTools channel the router does not see
would reach, through the browser, the server's disk (other sessions' profiles among it) that its
sandbox keeps it from. So the router checks every command of every client but the owner (our
own Playwright connection, which only the planner and the server drive), whichever session it
is sent on:

* the method must be on the allowlist (``agent.browser.cdp_allowlist``); any other is refused,
  naming the method;
* sessions are flat only: ``Target.attachToTarget`` and ``Target.setAutoAttach`` must say
  ``flatten: true`` (Chromium's default is the old nested mode), and the nested mode's
  ``Target.sendMessageToTarget`` is off the list. Every command then reaches the browser as a
  message of its own, with the ``sessionId`` the router checks, so the guard sees each one.
  Parsing nested messages instead would mean checking JSON inside JSON at any depth and routing
  the answers back out of ``Target.receivedMessageFromTarget``; no client we support needs it
  (Playwright, Puppeteer, agent-browser and Playwright MCP attach flat), so it is refused;
* a URL a command names (a navigation, a new tab, a request rewritten on its way, a resource
  loaded for DevTools) must be a web URL: ``http``, ``https``, ``about``, ``data`` or ``blob``;
* paths on the browser's machine are refused (files dropped by a drag, any ``...Path``
  argument), except where downloads go: that is rewritten to the session's own downloads
  folder, whatever the client asked, with download events on (the router enforces the download
  limits with them, ``agent.browser.cdp_downloads``).

Pages themselves cannot reach ``file://`` from a web origin: Chromium refuses that navigation
to a page, so only the commands above need the check.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from agent.browser.cdp_allowlist import ALLOWED_METHODS

__all__ = ["WEB_SCHEMES", "refusal"]

WEB_SCHEMES = frozenset({"http", "https", "about", "data", "blob"})

_DOWNLOADS = frozenset({"Browser.setDownloadBehavior", "Page.setDownloadBehavior"})
_FLAT_ONLY = frozenset({"Target.attachToTarget", "Target.setAutoAttach"})
# Parameters named like a path that are not files: a cookie's path, a DOM node's path.
_NOT_FILES = frozenset(
    {("Network.setCookie", "path"), ("Network.deleteCookies", "path"),
     ("DOM.pushNodeByPathToFrontend", "path")}
)  # fmt: skip
# As Chromium's URL parser reads a URL: leading control characters and spaces skipped, tabs and
# newlines anywhere dropped, then the scheme.
_SKIPPED = "".join(chr(code) for code in range(0x21))
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")


def refusal(method: str, params: dict[str, Any], downloads_dir: Callable[[], str]) -> str | None:
    """Why a client's command may not go (CDP's error message), or None when it may; a
    download folder in ``params`` is rewritten to ``downloads_dir()`` (asked for only then)."""
    if method not in ALLOWED_METHODS:
        return (
            f"{method} is not allowed for this client: this server lets DevTools clients use "
            "only the methods that act on the session's own pages."
        )
    if method in _FLAT_ONLY and params.get("flatten") is not True:
        if method == "Target.attachToTarget" or params.get("autoAttach"):
            return (
                f"{method} is allowed for this client with flatten: true only (sessions "
                "addressed by sessionId); the nested mode is not."
            )
    if method in _DOWNLOADS:
        if params.get("behavior") == "default":  # the user's own Downloads folder
            params["behavior"] = "allow"
        if params.get("behavior") in ("allow", "allowAndName"):
            params["downloadPath"] = downloads_dir()
            if method == "Browser.setDownloadBehavior":
                params["eventsEnabled"] = True  # how the router sees a download's size
        else:
            params.pop("downloadPath", None)  # nothing is written: no folder to name
        return None
    for name, value in params.items():
        if _names_a_url(name) and isinstance(value, str):
            scheme = _scheme(value)
            if scheme is not None and scheme not in WEB_SCHEMES:
                allowed = ", ".join(sorted(WEB_SCHEMES))
                return f"{method}: only web URLs ({allowed}) are allowed here, not {scheme}:."
        elif (name == "path" or name.endswith("Path")) and (method, name) not in _NOT_FILES:
            return f"{method}: paths on the browser's machine are not allowed here."
    data = params.get("data")
    if method == "Input.dispatchDragEvent" and isinstance(data, dict) and data.get("files"):
        return f"{method}: dropping files from the browser's machine is not allowed here."
    return None


def _scheme(url: str) -> str | None:
    match = _SCHEME.match(url.lstrip(_SKIPPED).translate({9: None, 10: None, 13: None}))
    return match.group(1).lower() if match else None


def _names_a_url(name: str) -> bool:
    return name.lower().endswith("url") or name == "manifestId"
