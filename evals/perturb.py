"""A perturbed copy of the eval sites, made at serve time from the pages as they are served
(never a committed copy): what a redesign changes while the names a person reads stay.

Each HTML page gets:

* its body's content wrapped in two more levels of ``div`` (another DOM nesting);
* another class on every element that has one (``class="a"`` becomes ``class="a pz-a"``) and
  a ``data-pz`` attribute on every button and input;
* unrelated elements before everything else: a "Dismiss tips" button, an "Unrelated offer"
  link and a paragraph.

Ids are kept: the pages' own labels (``for=``) and scripts find their elements by id, and a
page whose script breaks tests nothing about replays. (The prompt-cache tests change ids on a
page of their own.)

The renamed copy (:func:`rename_html`) changes what a person reads instead: the buttons and
links a task acts on last say other words (:data:`RENAMES`, one fixed table), in text, in
``aria-label`` and in an input button's ``value``, so a replay stops at that step and the
planner must heal it. Fields keep their labels: a form's submit button is the step renamed.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from evals.sites import SITE_ORIGIN

if TYPE_CHECKING:
    from collections.abc import Callable

    from playwright.async_api import BrowserContext, Route

    from evals.sites import SiteServer

__all__ = ["RENAMES", "perturb_html", "rename_html", "route_perturbed"]

RENAMES: dict[str, str] = {
    "Search flights": "Find flights",
    "Place order": "Order now",
    "Send message": "Submit message",
    "Sign in": "Log in",
    "Send feedback": "Submit feedback",
    "Show tracking details": "View tracking details",
    "Load the figures": "Show the figures",
    "Check availability": "Search availability",
    "Post comment": "Publish comment",
    "Subscribe": "Sign me up",
    "Save preferences": "Apply preferences",
    "Apply code": "Redeem code",
    "Save settings": "Apply settings",
    "Save profile": "Update profile",
    "Create account": "Open my account",
    "Continue": "Next step",
    "Review order": "Check the order",
    "Delete permanently": "Delete forever",
    "Open the full price list": "See the full price list",
    "I have read and accept the terms": "I accept these terms",
    "Download the report (PDF)": "Get the report (PDF)",
    "Read the announcement": "Open the announcement",
    "Delete this project": "Remove this project",
    "Apply": "Use this volume",
    "Sprockets": "Sprocket range",
    "Specifications": "Tech specs",
}
"""The renamed copy's labels: what the page said, what it says instead."""

_NOISE = (
    '<div class="pz-noise"><button type="button" onclick="this.dataset.pressed=1">Dismiss '
    'tips</button> <a href="#pz-offer">Unrelated offer</a><p>Sponsored: nothing to do '
    "here.</p></div>"
)
_BODY_OPEN = re.compile(r"<body\b[^>]*>", re.IGNORECASE)
_BODY_CLOSE = re.compile(r"</body\s*>", re.IGNORECASE)
_CLASS = re.compile(r'\bclass="([^"]*)"')
_CONTROL = re.compile(r"<(button|input|select|textarea)\b", re.IGNORECASE)
_ANY_WEB = re.compile(r"^(https?|wss?)://")


def perturb_html(html: str) -> str:
    """The page restyled as the module docstring says; a page without a body is unchanged."""
    opened = _BODY_OPEN.search(html)
    closed = max(_BODY_CLOSE.finditer(html), key=lambda m: m.start(), default=None)
    if opened is None or closed is None or closed.start() < opened.end():
        return html
    inner = html[opened.end() : closed.start()]
    inner = _CLASS.sub(
        lambda m: f'class="{m.group(1)} {" ".join("pz-" + c for c in m.group(1).split())}"',
        inner,
    )
    inner = _CONTROL.sub(lambda m: f"<{m.group(1)} data-pz", inner)
    wrapped = f'{_NOISE}<div class="pz-outer"><div class="pz-inner">{inner}</div></div>'
    return html[: opened.end()] + wrapped + html[closed.start() :]


def _renamed_pattern() -> re.Pattern[str]:
    names = "|".join(re.escape(name) for name in sorted(RENAMES, key=len, reverse=True))
    # A whole text node (``>Sign in<``) or a whole attribute value a name comes from.
    return re.compile(rf"(>\s*)({names})(\s*<)|(\b(?:aria-label|value)=[\"'])({names})([\"'])")


_RENAMED = _renamed_pattern()


def rename_html(html: str) -> str:
    """The page with every label of :data:`RENAMES` said the other way."""

    def swap(match: re.Match[str]) -> str:
        if match.group(2) is not None:
            return match.group(1) + RENAMES[match.group(2)] + match.group(3)
        return match.group(4) + RENAMES[match.group(5)] + match.group(6)

    return _RENAMED.sub(swap, html)


async def route_perturbed(
    context: BrowserContext, server: SiteServer, change: Callable[[str], str] = perturb_html
) -> None:
    """Like :func:`evals.sites.route_sites`, with every HTML page changed on its way (restyled,
    or with ``change=rename_html`` renamed): fetched from the site server over loopback, so it
    is the page as served, whatever made it."""
    prefix = SITE_ORIGIN + "/"

    async def handle(route: Route) -> None:
        url = route.request.url
        if not (url.startswith(prefix) or url == SITE_ORIGIN):
            await route.abort("blockedbyclient")
            return
        try:
            response = await route.fetch(url=server.live_origin + url[len(SITE_ORIGIN) :])
            kind = response.headers.get("content-type", "")
            if "html" not in kind:
                await route.fulfill(response=response)
                return
            body = change(await response.text())
        except Exception:  # the server closed under a closing page
            await route.abort()
            return
        await route.fulfill(response=response, body=body)

    await context.route(_ANY_WEB, handle)
