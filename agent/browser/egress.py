"""The one way out of a browser box whose network is its own: a SOCKS5 checkpoint that checks the
address it connects to (``AGENT_BLOCK_PRIVATE_ADDRESSES``).

A box started with egress control has a network namespace of its own: nothing but its own
loopback, on which one TCP socket listens. That socket was made inside the box and handed to this
process (``agent.browser.box``), so this server accepts on it; Chromium is told to send
everything there (``--proxy-server=socks5://127.0.0.1:PORT --proxy-bypass-list=<-loopback>``:
the last part removes Chromium's implicit loopback bypass). Navigations, redirect hops,
subresources, WebSockets, workers, service workers and prefetches all reach the network only as
CONNECT requests here, by construction; UDP (WebRTC, QUIC) has no route at all.

For each CONNECT the checkpoint refuses a name Chromium treats as loopback before any lookup,
resolves the name once, refuses when any address is private (``agent.browser.addresses``), and
connects to the very address it checked, so a name that resolves differently the second time (DNS
rebinding) changes nothing. Chromium sends names, not addresses, to a SOCKS5 proxy, so resolution
happens here and nowhere else.

Chromium reports every refusal alike (``ERR_SOCKS_CONNECTION_FAILED``), so the checkpoint keeps
what it refused lately and why (``refusals``): the scrape turns a blocked navigation (or a blocked
redirect hop of it) into its 403.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import struct
import time
from collections import deque

from agent.browser.addresses import is_loopback_name, is_private_address

__all__ = ["BLOCKED", "UNREACHABLE", "UNRESOLVED", "EgressCheckpoint"]

log = logging.getLogger(__name__)

BLOCKED = "blocked"
"""A refusal: the host is or resolves to a private address."""
UNRESOLVED = "unresolved"
"""The host's name does not resolve."""
UNREACHABLE = "unreachable"
"""Nothing answered at the host's address and port."""

# SOCKS5 (RFC 1928) replies.
_OK, _NOT_ALLOWED, _HOST_UNREACHABLE, _REFUSED = 0, 2, 4, 5
_COMMAND_NOT_SUPPORTED, _ADDRESS_NOT_SUPPORTED = 7, 8
_CONNECT_TIMEOUT_S = 30.0
_HANDSHAKE_TIMEOUT_S = 30.0
_CHUNK = 256 * 1024
_REMEMBERED = 256


class EgressCheckpoint:
    """Serves one box's SOCKS5 socket (a listening socket made inside the box)."""

    def __init__(self, listener: socket.socket) -> None:
        self._listener = listener
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._streams: set[asyncio.StreamWriter] = set()
        self._refusals: deque[tuple[float, str, str]] = deque(maxlen=_REMEMBERED)

    async def start(self) -> None:
        self._listener.setblocking(False)
        self._server = await asyncio.start_server(self._serve, sock=self._listener, limit=_CHUNK)

    def refusals(self, since: float) -> list[tuple[str, str]]:
        """The hosts refused since ``since`` (``time.monotonic()``), oldest first, each with why
        (``BLOCKED``, ``UNRESOLVED``, ``UNREACHABLE``)."""
        return [(host, reason) for at, host, reason in self._refusals if at >= since]

    def _remember(self, host: str, reason: str) -> None:
        self._refusals.append((time.monotonic(), host.lower().strip("[]"), reason))

    async def close(self) -> None:
        """Stop accepting, and end every connection (each handler then returns by itself)."""
        if self._server is not None:
            self._server.close()
        for stream in list(self._streams):
            stream.close()
        if self._connections:
            await asyncio.wait(self._connections, timeout=5)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        self._streams.add(writer)
        upstream: asyncio.StreamWriter | None = None
        try:
            async with asyncio.timeout(_HANDSHAKE_TIMEOUT_S):
                target = await _handshake(reader, writer)
                if target is None:
                    return
                host, port = target
                connected = await self._connect(host, port, writer)
            if connected is None:
                return
            upstream_reader, upstream = connected
            self._streams.add(upstream)
            await asyncio.gather(
                _pipe(reader, upstream, writer), _pipe(upstream_reader, writer, upstream)
            )
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError, OSError):
            pass
        finally:
            self._connections.discard(task)
            for stream in (writer, upstream):
                if stream is not None:
                    self._streams.discard(stream)
                    stream.close()

    async def _connect(
        self, host: str, port: int, writer: asyncio.StreamWriter
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        """Check ``host`` and connect to the address checked; answer the client either way."""
        addresses = await self._checked_addresses(host, port)
        if isinstance(addresses, str):
            reply = _NOT_ALLOWED if addresses == BLOCKED else _HOST_UNREACHABLE
            (log.info if addresses == BLOCKED else log.debug)(
                "egress refused %s:%d (%s)", host, port, addresses
            )
            await _reply(writer, reply)
            return None
        for family, address in addresses:
            try:
                async with asyncio.timeout(_CONNECT_TIMEOUT_S):
                    opened = await asyncio.open_connection(
                        address, port, family=family, limit=_CHUNK
                    )
            except (OSError, TimeoutError):
                continue
            sock = opened[1].get_extra_info("socket")
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            await _reply(writer, _OK)
            return opened
        self._remember(host, UNREACHABLE)
        await _reply(writer, _REFUSED)
        return None

    async def _checked_addresses(self, host: str, port: int) -> list[tuple[int, str]] | str:
        """The addresses ``host`` may be reached at, or why it may not (BLOCKED, UNRESOLVED)."""
        if is_loopback_name(host):
            self._remember(host, BLOCKED)
            return BLOCKED
        try:
            literal = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            literal = None
        if literal is not None:
            family = socket.AF_INET6 if literal.version == 6 else socket.AF_INET
            found: list[tuple[int, str]] = [(int(family), str(literal))]
        else:
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(
                    host, port, type=socket.SOCK_STREAM
                )
            except (OSError, UnicodeError):
                self._remember(host, UNRESOLVED)
                return UNRESOLVED
            found = list(dict.fromkeys((int(info[0]), str(info[4][0])) for info in infos))
        if not found or any(is_private_address(address, port) for _, address in found):
            self._remember(host, BLOCKED)
            return BLOCKED
        return found


async def _handshake(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> tuple[str, int] | None:
    """Read a SOCKS5 greeting and CONNECT request; the host and port asked for, or None (after
    answering) when the client asked for anything else."""
    version, count = await reader.readexactly(2)
    methods = await reader.readexactly(count)
    if version != 5 or 0 not in methods:
        writer.write(b"\x05\xff")  # no acceptable method: only "no authentication" is offered
        await writer.drain()
        return None
    writer.write(b"\x05\x00")
    version, command, _, kind = await reader.readexactly(4)
    if kind == 1:
        host = socket.inet_ntop(socket.AF_INET, await reader.readexactly(4))
    elif kind == 4:
        host = socket.inet_ntop(socket.AF_INET6, await reader.readexactly(16))
    elif kind == 3:
        length = (await reader.readexactly(1))[0]
        host = (await reader.readexactly(length)).decode("ascii", errors="replace")
    else:
        await _reply(writer, _ADDRESS_NOT_SUPPORTED)
        return None
    (port,) = struct.unpack("!H", await reader.readexactly(2))
    if version != 5 or command != 1:  # CONNECT only: no BIND, no UDP ASSOCIATE
        await _reply(writer, _COMMAND_NOT_SUPPORTED)
        return None
    return host, port


async def _reply(writer: asyncio.StreamWriter, code: int) -> None:
    writer.write(bytes([5, code, 0, 1, 0, 0, 0, 0, 0, 0]))
    await writer.drain()


async def _pipe(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, other: asyncio.StreamWriter
) -> None:
    """Copy one direction until its end, then pass the end on (half-close); on an error, end
    both directions (``other`` is the opposite one's writer), so neither waits for good."""
    try:
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.close()
        other.close()
