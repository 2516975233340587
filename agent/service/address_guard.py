"""The guard against scrapes reaching this server's own network (SSRF), for exposed servers
(``AGENT_BLOCK_PRIVATE_ADDRESSES``): the URL's host is checked before a browser starts, and
the requests its page makes later are checked again by Playwright routes, as an early and
friendly refusal.

What the guarantee rests on is the browser box's egress checkpoint (``agent.browser.egress``):
a local browser reaches the network only through it, and it checks the address it connects to.
Routes cannot see everything (redirect hops, WebSockets, workers); they stay for remote browser
endpoints, which no box confines. Which hosts count as private: ``agent.browser.addresses``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from agent.browser.addresses import resolves_private
from agent.errors import RequestError

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Route

__all__ = ["block_private_requests", "check_public_address", "private_address_error"]


def private_address_error(host: str) -> RequestError:
    """The 403 for a scrape that reaches a private address."""
    return RequestError(
        "SCRAPE_BLOCKED",
        f"{host!r} is a private, loopback or link-local address, which this server does "
        "not load (AGENT_BLOCK_PRIVATE_ADDRESSES is on).",
    )


def _host_and_port(url: str) -> tuple[str, int | None]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = {"http": 80, "ws": 80, "https": 443, "wss": 443}.get(parts.scheme.lower())
    return parts.hostname or "", port


async def check_public_address(url: str) -> None:
    """Raise 403 when ``url``'s host is or resolves to a non-public address (SSRF guard)."""
    host, port = _host_and_port(url)
    if await resolves_private(host, port):
        raise private_address_error(host)


async def block_private_requests(context: BrowserContext) -> None:
    """Abort the requests Playwright's routes see (navigations, subresources) that reach a
    private host."""
    verdicts: dict[tuple[str, int | None], bool] = {}

    async def guard(route: Route) -> None:
        url = route.request.url
        if url.startswith(("http://", "https://", "ws://", "wss://")):
            key = _host_and_port(url)
            if key not in verdicts:
                verdicts[key] = await resolves_private(*key)
            if verdicts[key]:
                await route.abort("blockedbyclient")
                return
        await route.fallback()

    await context.route("**/*", guard)
