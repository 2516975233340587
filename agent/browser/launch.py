"""Launching Chromium and connecting Playwright to it.

Each session owns one Chromium process, started by us (not by Playwright). It listens on no TCP
port: it speaks DevTools over a pipe to this process alone, and a ``CdpRouter`` shares that pipe
between the session's clients over two unix sockets in a private (0700) folder: ``owner.sock``
for our own Playwright connection (the only client allowed to close the browser) and
``cdp.sock`` for everything else that needs the page (code executors, agent-browser, the API's
token-guarded ``cdpUrl``). Playwright reaches both as ``ws+unix://`` URLs.

Closing kills the whole process group, so no renderer or GPU helper is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import websockets
from playwright.async_api import Browser, BrowserContext, Page

from agent.browser.cdp_router import CdpRouter, PipeUpstream
from agent.browser.driver import borrow_playwright, return_playwright
from agent.errors import BrowserLaunchError, BrowserNotFoundError

__all__ = ["QUIET_FLAGS", "BrowserProcess", "find_chromium", "launch_browser", "unix_ws_url"]

# Flags that keep Chromium from reaching out to Google services on a machine with no network
# (which otherwise floods the log with refused connections and slows start-up), and that keep
# an idle session small.
QUIET_FLAGS: tuple[str, ...] = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    # Playwright adds this when it launches Chromium itself: a page restored from the
    # back-forward cache fires no load event, which would stall every wait after back/forward.
    "--disable-back-forward-cache",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-default-apps",
    "--disable-extensions",
    # site-per-process and IsolateOrigins: a page's cross-site iframes (ads, embeds) share its
    # renderer instead of one process each. Site isolation guards sites from each other inside
    # one browser; every session has its own browser, and --no-sandbox is set anyway.
    "--disable-features=Translate,MediaRouter,OptimizationHints,site-per-process,IsolateOrigins",
    # The network service in the browser process: one process less per session (about 20 MiB).
    "--enable-features=NetworkServiceInProcess2",
    "--metrics-recording-only",
    "--password-store=basic",
    "--use-mock-keychain",
    "--mute-audio",
)

_INSTALL_HINT = (
    "Install one with `apt-get install chromium` (Debian/Ubuntu), or point AGENT_BROWSER_PATH "
    "at a Chromium or Chrome binary."
)


def find_chromium(configured: str | None = None) -> str:
    """Return the Chromium binary to use: the setting, then PATH, then Playwright's own build."""
    if configured:
        path = shutil.which(configured) or configured
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            raise BrowserNotFoundError(
                f"AGENT_BROWSER_PATH is {configured!r}, which is not an executable file. "
                + _INSTALL_HINT
            )
        return path
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    playwright_build = _playwright_chromium()
    if playwright_build:
        return playwright_build
    raise BrowserNotFoundError("No Chromium browser was found on PATH. " + _INSTALL_HINT)


def _playwright_chromium() -> str | None:
    root = Path(os.environ.get("PLAYWRIGHT_BROWSERS_PATH") or Path.home() / ".cache/ms-playwright")
    for candidate in sorted(root.glob("chromium-*/chrome-linux*/chrome"), reverse=True):
        if os.access(candidate, os.X_OK):
            return str(candidate)
    return None


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
        await router.serve(_WebsocketClient(connection), owner=owner)

    server = await websockets.unix_serve(
        handler, str(path), max_size=None, ping_interval=None, compression=None
    )
    os.chmod(path, 0o600)
    return server


@dataclass
class BrowserProcess:
    """A running Chromium, its DevTools router, and Playwright attached through it."""

    process: subprocess.Popen[bytes]
    router: CdpRouter
    sockets: list[websockets.Server]
    socket_dir: str
    cdp_url: str
    """The ``ws+unix://`` URL of the session's client socket (``cdp.sock``)."""
    browser: Browser
    context: BrowserContext
    page: Page
    user_data_dir: str
    _loopback_url: str | None = field(default=None, init=False)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None and self.browser.is_connected()

    @property
    def client_socket(self) -> Path:
        """The unix socket any client of the session's DevTools connects to."""
        return Path(self.socket_dir) / "cdp.sock"

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

    def context_view(self, context: BrowserContext, page: Page) -> BrowserProcess:
        """This browser seen through one of its contexts, for sharing one Chromium between
        sessions (the evals' pool): closing the view closes only that context."""
        return _ContextView(
            self.process,
            self.router,
            self.sockets,
            self.socket_dir,
            self.cdp_url,
            self.browser,
            context,
            page,
            self.user_data_dir,
        )

    async def close(self) -> None:
        """Close Playwright's connection and kill the browser's whole process group."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.browser.close(), timeout=5)
        await return_playwright()
        await asyncio.to_thread(_kill_group, self.process)
        await self.router.close()
        for server in self.sockets:
            server.close()
        shutil.rmtree(self.user_data_dir, ignore_errors=True)
        shutil.rmtree(self.socket_dir, ignore_errors=True)


@dataclass
class _ContextView(BrowserProcess):
    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.context.close()


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """Stop Chromium and every helper process it started (they share its process group)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    # The browser process can exit before its renderers and zygotes; whatever of the group is
    # still there now would outlive the session, so it goes too.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=5)
    deadline = time.monotonic() + 5
    while _group_alive(process.pid) and time.monotonic() < deadline:
        time.sleep(0.02)


def _group_alive(group: int) -> bool:
    """Whether any process (not a zombie) of a process group is still running."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[2]) == group:
            return True
    return False


async def launch_browser(
    *,
    executable: str | None = None,
    headless: bool = True,
    viewport: tuple[int, int] = (1280, 800),
    extra_args: tuple[str, ...] = (),
    startup_timeout_s: float = 20.0,
) -> BrowserProcess:
    """Start a private Chromium speaking DevTools over a pipe, and attach Playwright to it."""
    binary = find_chromium(executable)
    user_data_dir = tempfile.mkdtemp(prefix="agent-chromium-")
    socket_dir = tempfile.mkdtemp(prefix="agent-cdp-")  # 0700: ours alone
    args = [
        *QUIET_FLAGS,
        "--remote-debugging-pipe",
        f"--user-data-dir={user_data_dir}",
        f"--window-size={viewport[0]},{viewport[1]}",
        *extra_args,
    ]
    if headless:
        args.append("--headless=new")
    args.append("about:blank")
    # Chromium reads DevTools commands on its fd 3 and writes on its fd 4.
    to_browser_read, to_browser_write = os.pipe()
    from_browser_read, from_browser_write = os.pipe()
    wiring = (
        f'exec "$0" "$@" 3<&{to_browser_read} 4>&{from_browser_write} '
        f"{to_browser_read}<&- {from_browser_write}>&-"
    )
    try:
        process = subprocess.Popen(  # noqa: ASYNC220 - Popen returns at once
            ["bash", "-c", wiring, binary, *args],  # bash: POSIX sh takes one-digit fds only
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(to_browser_read, from_browser_write),
            start_new_session=True,  # its own process group, so close() can kill every child
        )
    finally:
        os.close(to_browser_read)
        os.close(from_browser_write)
    router = CdpRouter(await PipeUpstream.open(from_browser_read, to_browser_write))
    sockets: list[websockets.Server] = []
    playwright = None

    async def abandon() -> None:
        await router.close()
        for server in sockets:
            server.close()
        if playwright is not None:
            await return_playwright()
        await asyncio.to_thread(_kill_group, process)
        shutil.rmtree(user_data_dir, ignore_errors=True)
        shutil.rmtree(socket_dir, ignore_errors=True)

    try:
        router.start()
        owner = Path(socket_dir) / "owner.sock"
        sockets.append(await serve_router(router, owner, owner=True))
        sockets.append(await serve_router(router, Path(socket_dir) / "cdp.sock"))
        playwright = await borrow_playwright()
        browser = await asyncio.wait_for(
            playwright.chromium.connect_over_cdp(unix_ws_url(owner)), startup_timeout_s
        )
        context = browser.contexts[0] if browser.contexts else await browser.new_context()
        page = context.pages[0] if context.pages else await context.new_page()
        await page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
    except BaseException as exc:
        code = process.poll()
        await abandon()
        if isinstance(exc, (asyncio.CancelledError, KeyboardInterrupt)):
            raise
        if code is not None:
            raise BrowserLaunchError(
                f"Chromium at {binary} exited with code {code} during start-up. Run it by hand "
                "with --headless to see why (a missing library is the usual cause)."
            ) from exc
        raise BrowserLaunchError(
            f"Chromium at {binary} started but Playwright could not attach: {exc}"
        ) from exc
    return BrowserProcess(
        process,
        router,
        sockets,
        socket_dir,
        unix_ws_url(Path(socket_dir) / "cdp.sock"),
        browser,
        context,
        page,
        user_data_dir,
    )
