"""Launching Chromium and connecting Playwright to it.

Each session owns one Chromium process, started by us (not by Playwright). It listens on no TCP
port: it speaks DevTools over a pipe to this process alone, and a ``CdpRouter`` shares that pipe
between the session's clients (see ``handle.py``).

Closing kills the whole process group, so no renderer or GPU helper is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.async_api import BrowserContext, Page

from agent.browser.cdp_router import CdpRouter, PipeUpstream
from agent.browser.handle import BrowserHandle, attach_playwright
from agent.errors import BrowserLaunchError, BrowserNotFoundError

__all__ = ["QUIET_FLAGS", "BrowserProcess", "find_chromium", "launch_browser"]

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


class BrowserProcess(BrowserHandle):
    """A Chromium started by this process for one session."""

    kind = "local"

    def __init__(
        self, *, process: subprocess.Popen[bytes], user_data_dir: str, **parts: Any
    ) -> None:
        super().__init__(**parts)
        self.process = process
        self.user_data_dir = user_data_dir

    @property
    def alive(self) -> bool:
        return self.process.poll() is None and super().alive

    @property
    def pid(self) -> int:
        return self.process.pid

    def context_view(self, context: BrowserContext, page: Page) -> BrowserProcess:
        """This browser seen through one of its contexts, for sharing one Chromium between
        sessions (the evals' pool): closing the view closes only that context."""
        return _ContextView(
            process=self.process,
            user_data_dir=self.user_data_dir,
            router=self.router,
            sockets=self.sockets,
            socket_dir=self.socket_dir,
            browser=self.browser,
            context=context,
            page=page,
        )

    async def close(self) -> None:
        """Close Playwright's connection and kill the browser's whole process group."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.browser.close(), timeout=5)
        await asyncio.to_thread(_kill_group, self.process)
        await self._release()
        shutil.rmtree(self.user_data_dir, ignore_errors=True)


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
    try:
        browser, sockets, socket_dir = await attach_playwright(router, timeout_s=startup_timeout_s)
    except BaseException as exc:
        code = process.poll()
        await router.close()
        await asyncio.to_thread(_kill_group, process)
        shutil.rmtree(user_data_dir, ignore_errors=True)
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
    handle = BrowserProcess(
        process=process,
        user_data_dir=user_data_dir,
        router=router,
        sockets=sockets,
        socket_dir=socket_dir,
        browser=browser,
        context=browser.contexts[0],
        page=browser.contexts[0].pages[0],
    )
    try:
        if not handle.context.pages:
            handle.page = await handle.context.new_page()
        await handle.page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
    except BaseException:
        await handle.close()
        raise
    return handle
