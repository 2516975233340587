"""What every browser a session drives has, wherever it runs: a DevTools router shared by the
session's clients over private sockets, and Playwright attached through it.

``BrowserHandle`` is the base of the local launcher's ``BrowserProcess`` (``launch.py``) and the
remote endpoints' ``RemoteBrowser`` (``remote.py``). Its clients:

* ``owner.sock``: our own Playwright connection, the only client allowed to close the browser;
* ``cdp.sock`` (``cdp_url``): everything else that needs the session's page (code executors, the
  API's token-guarded ``cdpUrl``);
* a loopback port guarded by a random path, made on first use, for tools that speak TCP only.

Both sockets live in a folder of mode 0700 that only this process can open.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import secrets
import shutil
import tempfile
from pathlib import Path

import websockets
from playwright.async_api import Browser, BrowserContext, Page

from agent.browser.cdp_router import CdpRouter
from agent.browser.driver import borrow_playwright, return_playwright

__all__ = [
    "BrowserHandle",
    "attach_playwright",
    "serve_router",
    "serve_router_sockets",
    "unix_ws_url",
]


def unix_ws_url(socket_path: Path | str) -> str:
    """The ``ws+unix://`` URL Playwright (Python and Node) connects to a router socket with."""
    return f"ws+unix://{socket_path}:/devtools/browser"


class _WebsocketClient:
    """A ``websockets`` server connection as a router client."""

    def __init__(self, connection: websockets.ServerConnection) -> None:
        self._connection = connection

    async def send(self, message: str) -> None:
        await self._connection.send(message)

    async def receive(self) -> str:
        message = await self._connection.recv()
        return message if isinstance(message, str) else message.decode()


async def serve_router(router: CdpRouter, path: Path, *, owner: bool = False) -> websockets.Server:
    """Serve ``router`` to WebSocket clients on a unix socket at ``path`` (mode 0600)."""

    async def handler(connection: websockets.ServerConnection) -> None:
        # A browser that is gone, or goes, ends its clients' connections: no server error.
        with contextlib.suppress(ConnectionError):
            await router.serve(_WebsocketClient(connection), owner=owner)

    server = await websockets.unix_serve(
        handler, str(path), max_size=None, ping_interval=None, compression=None
    )
    os.chmod(path, 0o600)
    return server


class BrowserHandle:
    """A session's browser: its router, the sockets serving it, and our Playwright objects."""

    kind = "local"
    """Which provider it comes from: ``local``, ``cdp`` or ``playwright``."""

    def __init__(
        self,
        *,
        router: CdpRouter,
        sockets: list[websockets.Server],
        socket_dir: str,
        browser: Browser,
        context: BrowserContext,
        page: Page,
    ) -> None:
        self.router = router
        self.sockets = sockets
        self.socket_dir = socket_dir
        self.browser = browser
        self.context = context
        self.page = page
        self._loopback_url: str | None = None

    @property
    def cdp_url(self) -> str:
        """The ``ws+unix://`` URL of the session's client socket (``cdp.sock``)."""
        return unix_ws_url(self.client_socket)

    @property
    def client_socket(self) -> Path:
        """The unix socket any client of the session's DevTools connects to."""
        return Path(self.socket_dir) / "cdp.sock"

    @property
    def alive(self) -> bool:
        return self.browser.is_connected() and not self.router.closed

    @property
    def pid(self) -> int | None:
        """The browser's process id, when it runs on this machine."""
        return None

    def ended_by_limit(self) -> str | None:
        """Why the browser was ended for going past a limit of its own (its box's memory),
        checked now; None while it keeps within them, or has none."""
        return None

    def egress_refusals(self, since: float) -> list[tuple[str, str]]:
        """The hosts the browser's egress checkpoint (``agent.browser.egress``) refused since
        ``since`` (``time.monotonic()``), each with why; none when it has no checkpoint."""
        return []

    async def loopback_cdp_url(self) -> str:
        """A ``ws://127.0.0.1`` URL of the session's DevTools, for clients that cannot use a
        unix socket (agent-browser). The port is guarded by a random path: a connection that
        does not know it is refused before it reaches the browser."""
        if self._loopback_url is None:
            token = secrets.token_urlsafe(24)
            path = f"/devtools/browser/{token}"
            router = self.router

            async def handler(connection: websockets.ServerConnection) -> None:
                await router.serve(_WebsocketClient(connection))

            def guard(
                connection: websockets.ServerConnection, request: websockets.http11.Request
            ) -> websockets.http11.Response | None:
                if hmac.compare_digest(request.path.encode(), path.encode()):
                    return None
                return connection.respond(403, "Forbidden\n")

            server = await websockets.serve(
                handler,
                "127.0.0.1",
                0,
                process_request=guard,
                max_size=None,
                ping_interval=None,
                compression=None,
            )
            self.sockets.append(server)
            port = next(iter(server.sockets)).getsockname()[1]
            self._loopback_url = f"ws://127.0.0.1:{port}{path}"
        return self._loopback_url

    async def _release(self) -> None:
        """Disconnect Playwright and stop routing (what every close ends with)."""
        await return_playwright()
        await self.router.close()
        for server in self.sockets:
            server.close()
        shutil.rmtree(self.socket_dir, ignore_errors=True)

    async def close(self) -> None:
        raise NotImplementedError


async def serve_router_sockets(router: CdpRouter) -> tuple[str, list[websockets.Server]]:
    """Serve ``router`` in a new private folder (mode 0700: ours alone): ``owner.sock`` for the
    session's own connection, ``cdp.sock`` for every other client. Returns the folder and the
    socket servers; on failure nothing is left behind."""
    socket_dir = tempfile.mkdtemp(prefix="agent-cdp-")
    sockets: list[websockets.Server] = []
    try:
        sockets.append(await serve_router(router, Path(socket_dir) / "owner.sock", owner=True))
        sockets.append(await serve_router(router, Path(socket_dir) / "cdp.sock"))
    except BaseException:
        for server in sockets:
            server.close()
        shutil.rmtree(socket_dir, ignore_errors=True)
        raise
    return socket_dir, sockets


async def attach_playwright(
    router: CdpRouter, *, timeout_s: float
) -> tuple[Browser, list[websockets.Server], str]:
    """Serve ``router`` on a private socket folder and connect the loop's Playwright to it.

    Returns the Playwright browser, the socket servers and the folder; on failure everything
    it started is stopped again.
    """
    router.start()
    socket_dir, sockets = await serve_router_sockets(router)
    borrowed = False
    try:
        playwright = await borrow_playwright()
        borrowed = True
        # Playwright's own timeout, not a cancellation from outside: a connect cancelled half-way
        # leaves a half-made Browser in the shared driver, whose close event later raises
        # AttributeError into whichever unrelated call is reading the driver at that moment.
        browser = await playwright.chromium.connect_over_cdp(
            unix_ws_url(Path(socket_dir) / "owner.sock"), timeout=timeout_s * 1000
        )
    except BaseException:
        for server in sockets:
            server.close()
        if borrowed:
            await return_playwright()
        shutil.rmtree(socket_dir, ignore_errors=True)
        raise
    return browser, sockets, socket_dir
