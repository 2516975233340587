"""What a DevTools client may not do to the machine its browser runs on.

Chromium runs outside the code sandbox, as the server's user, and DevTools is a remote control
for all of it. A client that could open a ``file://`` page, hand a file input the server's
files, choose where downloads are written, load an extension or give a page's JavaScript a
DevTools channel of its own would reach, through the browser, the server's disk (other sessions'
profiles among it) that its sandbox keeps it from. So the router checks every command of every
client but the owner (our own Playwright connection, which only the planner and the server
drive):

* a URL a command names (a navigation, a new tab, a request rewritten on its way, a resource
  loaded for DevTools, an app to install) must be a web URL: ``http``, ``https``, ``about``,
  ``data`` or ``blob``;
* paths on the browser's machine are refused (a file input's files, files dropped by a drag, an
  extension to load, any ``...Path`` argument), except where downloads go: that is rewritten to
  the session's own downloads folder, whatever the client asked;
* commands that open a way around the router are refused: ``Target.exposeDevToolsProtocol``
  (DevTools for a page's own scripts), ``Target.setRemoteLocations`` (the browser dialing
  host:ports for targets), and ``Browser.close``/``crash`` (the browser down for everyone).

Pages themselves cannot reach ``file://`` from a web origin: Chromium refuses that navigation
to a page, so only the commands above need the check.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

__all__ = ["WEB_SCHEMES", "refusal"]

WEB_SCHEMES = frozenset({"http", "https", "about", "data", "blob"})

_REFUSED = frozenset(
    {
        "Browser.close", "Browser.crash", "Browser.crashGpuProcess",
        "Target.exposeDevToolsProtocol", "Target.setRemoteLocations", "DOM.setFileInputFiles",
    }
)  # fmt: skip
_REFUSED_DOMAINS = ("Extensions.",)
_DOWNLOADS = frozenset({"Browser.setDownloadBehavior", "Page.setDownloadBehavior"})
# As Chromium's URL parser reads a URL: leading control characters and spaces skipped, tabs and
# newlines anywhere dropped, then the scheme.
_SKIPPED = "".join(chr(code) for code in range(0x21))
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")


def refusal(method: str, params: dict[str, Any], downloads_dir: Callable[[], str]) -> str | None:
    """Why a client's command may not go (CDP's error message), or None when it may; a
    download folder in ``params`` is rewritten to ``downloads_dir()`` (asked for only then)."""
    if method in _REFUSED or method.startswith(_REFUSED_DOMAINS):
        return f"{method} is not allowed here."
    if method in _DOWNLOADS:
        if params.get("behavior") == "default":  # the user's own Downloads folder
            params["behavior"] = "allow"
        if params.get("behavior") in ("allow", "allowAndName"):
            params["downloadPath"] = downloads_dir()
        return None
    for name, value in params.items():
        if _names_a_url(name) and isinstance(value, str):
            scheme = _scheme(value)
            if scheme is not None and scheme not in WEB_SCHEMES:
                allowed = ", ".join(sorted(WEB_SCHEMES))
                return f"{method}: only web URLs ({allowed}) are allowed here, not {scheme}:."
        elif name == "path" or name.endswith("Path"):
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
