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
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from evals.sites import SITE_ORIGIN

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Route

    from evals.sites import SiteServer

__all__ = ["perturb_html", "route_perturbed"]

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


async def route_perturbed(context: BrowserContext, server: SiteServer) -> None:
    """Like :func:`evals.sites.route_sites`, with every HTML page perturbed on its way: fetched
    from the site server over loopback, so it is the page as served, whatever made it."""
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
            body = perturb_html(await response.text())
        except Exception:  # the server closed under a closing page
            await route.abort()
            return
        await route.fulfill(response=response, body=body)

    await context.route(_ANY_WEB, handle)
