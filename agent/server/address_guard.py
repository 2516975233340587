"""The guard against scrapes reaching this server's own network (SSRF), for exposed servers
(``AGENT_BLOCK_PRIVATE_ADDRESSES``): the URL's host is checked before a browser starts, and
every request its page makes later (redirects, subresources, navigations) is checked again."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from agent.errors import RequestError

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Route

__all__ = ["block_private_requests", "check_public_address"]


def _is_private(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


async def check_public_address(url: str) -> None:
    """Raise 403 when ``url``'s host is or resolves to a non-public address (SSRF guard)."""
    host = urlsplit(url).hostname or ""
    if await _host_is_private(host):
        raise RequestError(
            "SCRAPE_BLOCKED",
            f"{host!r} is a private, loopback or link-local address, which this server does "
            "not load (AGENT_BLOCK_PRIVATE_ADDRESSES is on).",
        )


async def _host_is_private(host: str) -> bool:
    try:
        return _is_private(host)
    except ValueError:
        pass  # a name, not an address literal
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return False  # unresolvable: let the browser report the DNS error
    return any(_is_private(str(info[4][0])) for info in infos)


async def block_private_requests(context: BrowserContext) -> None:
    """Abort every request, redirects and subresources included, that reaches a private host."""
    verdicts: dict[str, bool] = {}

    async def guard(route: Route) -> None:
        host = urlsplit(route.request.url).hostname or ""
        if route.request.url.startswith(("http://", "https://", "ws://", "wss://")):
            if host not in verdicts:
                verdicts[host] = await _host_is_private(host)
            if verdicts[host]:
                await route.abort("blockedbyclient")
                return
        await route.fallback()

    await context.route("**/*", guard)
