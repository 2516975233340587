"""Which ``Host`` a request may name: the server builds links (``cdpUrl``, live views, their
tokens in them) on it, so a forged one would hand a client links to someone else's machine.

Links come from ``AGENT_PUBLIC_URL`` when it is set; otherwise from the request's ``Host``,
which must then be one of:

* the address the request reached the server at (the connection's own local address and port,
  whatever ``AGENT_HOST`` is, so a server on ``0.0.0.0`` answers to the address a client used);
* a name of the address the server listens on: ``localhost`` for a loopback address, and for
  ``0.0.0.0`` or ``::`` the machine's own names and addresses too (with the port the request
  came in on, or none when that is the scheme's default);
* a name in ``AGENT_ALLOWED_HOSTS`` or the host of ``AGENT_PUBLIC_URL``, on any port (a load
  balancer's or a TLS proxy's name); ``.example.com`` allows its subdomains, ``*`` any name;
* with replicas, the address of a live replica: another replica forwards a request with the
  ``Host`` its client used, the forwarding replica's own address when nothing stood between.

Any other ``Host`` is answered 400 in Firecrawl's shape (a WebSocket is closed before it is
accepted). The check covers every route, which also keeps a page that rebinds its own name to
this server's address (DNS rebinding) from driving it.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import time
import urllib.parse

from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from agent.server.errors import error_response
from agent.service.settings import ServerSettings, routable_address
from agent.service.state import ServerState

__all__ = ["HostCheck", "host_refusal"]

_WILDCARDS = ("0.0.0.0", "::", "")
_DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}
_REPLICAS_TTL_S = 5.0


def host_refusal(
    settings: ServerSettings, host: str | None, server: tuple[str, int] | None, scheme: str
) -> str | None:
    """Why ``host`` (a ``Host`` header) is not one this server answers to, or None when it is.
    ``server`` is the local address the request arrived at; replicas are not considered."""
    if host is None:
        return None  # links are then built on the connection's own address
    parsed = _parse(host)
    if parsed is None:
        return f"The Host header {host[:100]!r} is not a host name or address."
    name, port = parsed
    if _allowed(settings, name):
        return None
    if server is not None:
        at, at_port = server
        wanted_port = port if port is not None else _DEFAULT_PORTS.get(scheme)
        if wanted_port == at_port and (
            _same_address(name, at) or name in _listen_names(settings.host)
        ):
            return None
    return (
        f"The Host header {host[:100]!r} names no address this server answers at, so the "
        "links it returns (cdpUrl, live views) would point elsewhere. Use the address the "
        "server listens on, or set AGENT_PUBLIC_URL (the URL clients reach it at) or "
        "AGENT_ALLOWED_HOSTS (the names it may be reached by)."
    )


class HostCheck:
    """ASGI middleware: refuse a request whose ``Host`` is not trusted (see the module
    docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._replicas: tuple[float, set[str]] = (0.0, set())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state: ServerState | None = getattr(scope["app"].state, "server", None)
        if scope["type"] not in ("http", "websocket") or state is None:
            await self.app(scope, receive, send)
            return
        host = _header(scope, b"host")
        server = scope.get("server")
        said = host_refusal(state.settings, host, server, str(scope.get("scheme", "http")))
        if said is not None and host is not None and state.registry.store.shared:
            if await self._a_replica(state, host, str(scope.get("scheme", "http"))):
                said = None
        if said is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await WebSocket(scope, receive, send).close(code=1008, reason="untrusted Host")
        else:
            await error_response("BAD_REQUEST", said)(scope, receive, send)

    async def _a_replica(self, state: ServerState, host: str, scheme: str) -> bool:
        """Whether ``host`` is the address of a live replica (one forwarding its client's
        ``Host``, or a client of one)."""
        fetched, urls = self._replicas
        if time.monotonic() - fetched > _REPLICAS_TTL_S:
            urls = await state.registry.store.replica_urls()
            self._replicas = (time.monotonic(), urls)
        wanted = _parse(host)
        for url in urls:
            parts = urllib.parse.urlsplit(url)
            port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
            if wanted is not None and parts.hostname is not None:
                name, wanted_port = wanted
                if (
                    _same_address(name, parts.hostname)
                    and (wanted_port or _DEFAULT_PORTS.get(scheme)) == port
                ):
                    return True
        return False


def _parse(host: str) -> tuple[str, int | None] | None:
    """A ``Host`` header's name (lower case, without brackets or a final dot) and port."""
    if not host or any(c in host for c in "/\\@?# \t"):
        return None
    try:
        parts = urllib.parse.urlsplit("//" + host)
        port = parts.port
    except ValueError:
        return None
    name = (parts.hostname or "").rstrip(".")
    return (name, port) if name else None


def _allowed(settings: ServerSettings, name: str) -> bool:
    allowed = [entry.lower().rstrip(".") for entry in settings.allowed_hosts]
    if settings.public_url:
        allowed.append((urllib.parse.urlsplit(settings.public_url).hostname or "").rstrip("."))
    for entry in allowed:
        if entry == "*" or entry == name or (entry.startswith(".") and name.endswith(entry)):
            return True
    return False


def _same_address(name: str, address: str) -> bool:
    try:
        return ipaddress.ip_address(name) == ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return name == address.lower()


@functools.lru_cache(maxsize=8)
def _listen_names(listen: str) -> frozenset[str]:
    """The names and addresses of the address the server listens on."""
    names = {listen.lower().strip("[]")}
    loopback = _loopback(listen)
    if listen in _WILDCARDS or loopback:
        names |= {"localhost", "127.0.0.1", "::1"}
    if listen in _WILDCARDS:
        hostname = socket.gethostname()
        names |= {hostname.lower(), socket.getfqdn().lower()}
        for family in (socket.AF_INET, socket.AF_INET6):
            found = routable_address(family)
            if found:
                names.add(found.split("%")[0])
            try:
                infos = socket.getaddrinfo(hostname, None, family, socket.SOCK_STREAM)
            except OSError:
                continue
            names |= {str(info[4][0]).split("%")[0] for info in infos}
    return frozenset(names)


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host.lower() == "localhost"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or []:
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None
