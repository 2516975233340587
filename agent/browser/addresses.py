"""Which hosts and addresses count as private: the one policy behind
``AGENT_BLOCK_PRIVATE_ADDRESSES``, used by the scrape's first check, the Playwright routes
(``agent.service.address_guard``) and the browser box's egress checkpoint
(``agent.browser.egress``).

An address is private when it is not globally routable (loopback, RFC 1918, link-local, CGNAT,
unique-local, reserved, documentation ranges) or is multicast; an IPv4-mapped IPv6 address is
judged as the IPv4 address it carries. A name is private when Chromium would send it to
loopback without asking DNS (``localhost``, ``*.localhost``, with or without a trailing dot),
or when it resolves to any private address.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import Iterator

__all__ = [
    "is_loopback_name",
    "is_private_address",
    "resolves_private",
    "treat_as_public_for_tests",
]

# Tests have no public network: a test may declare one loopback host:port "public" for as long
# as a ``with treat_as_public_for_tests(...)`` block lasts. No setting reaches this; it exists so
# that a redirect from a "public" page to a private one can be shown refused.
_PUBLIC_FOR_TESTS: set[tuple[str, int]] = set()


@contextlib.contextmanager
def treat_as_public_for_tests(address: str, port: int) -> Iterator[None]:
    """For tests only: let ``address:port`` (an address literal) count as public meanwhile."""
    key = (str(ipaddress.ip_address(address)), port)
    _PUBLIC_FOR_TESTS.add(key)
    try:
        yield
    finally:
        _PUBLIC_FOR_TESTS.discard(key)


def is_loopback_name(host: str) -> bool:
    """Whether Chromium maps ``host`` to loopback itself: ``localhost`` and ``*.localhost``,
    with or without a trailing dot, in any case."""
    name = host.lower().rstrip(".")
    return name == "localhost" or name.endswith(".localhost")


def is_private_address(address: str, port: int | None = None) -> bool:
    """Whether an address literal is not public (see the module docstring).

    Raises:
        ValueError: ``address`` is not an IP address.
    """
    ip = ipaddress.ip_address(address.strip("[]").split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if port is not None and (str(ip), port) in _PUBLIC_FOR_TESTS:
        return False
    return not ip.is_global or ip.is_multicast


async def resolves_private(host: str, port: int | None = None) -> bool:
    """Whether ``host`` (a name or an address literal) is or resolves to a private address.

    A name that does not resolve counts as public here: the browser reports the DNS error (the
    egress checkpoint, which connects, refuses it for its own reason).
    """
    if is_loopback_name(host):
        return True
    try:
        return is_private_address(host, port)
    except ValueError:
        pass  # a name, not an address literal
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return False
    return any(is_private_address(str(info[4][0]), port) for info in infos)
