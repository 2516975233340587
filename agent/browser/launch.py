"""Launching Chromium and connecting Playwright to it.

Each session owns one Chromium process, started by us (not by Playwright) with a DevTools port,
so that its CDP URL reaches that session's browser alone and code executors can attach to it.
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
from dataclasses import dataclass
from pathlib import Path

from playwright.async_api import Browser, BrowserContext, Page, Playwright, async_playwright

from agent.errors import BrowserLaunchError, BrowserNotFoundError

__all__ = ["QUIET_FLAGS", "BrowserProcess", "find_chromium", "launch_browser"]

# Flags that keep Chromium from reaching out to Google services on a machine with no network,
# which otherwise floods the log with refused connections and slows start-up.
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
    "--disable-features=Translate,MediaRouter,OptimizationHints",
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


@dataclass
class BrowserProcess:
    """A running Chromium with Playwright attached over CDP."""

    process: subprocess.Popen[bytes]
    cdp_url: str
    playwright: Playwright
    browser: Browser
    context: BrowserContext
    page: Page
    user_data_dir: str

    @property
    def alive(self) -> bool:
        return self.process.poll() is None and self.browser.is_connected()

    def context_view(self, context: BrowserContext, page: Page) -> BrowserProcess:
        """This browser seen through one of its contexts, for sharing one Chromium between
        sessions: closing the view closes only that context."""
        return _ContextView(
            self.process,
            self.cdp_url,
            self.playwright,
            self.browser,
            context,
            page,
            self.user_data_dir,
        )

    async def close(self) -> None:
        """Close Playwright's connection and kill the browser's whole process group."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.browser.close(), timeout=5)
        with contextlib.suppress(Exception):
            await self.playwright.stop()
        await asyncio.to_thread(_kill_group, self.process)
        shutil.rmtree(self.user_data_dir, ignore_errors=True)


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
    """Start a private Chromium with a DevTools port and attach Playwright to it."""
    binary = find_chromium(executable)
    user_data_dir = tempfile.mkdtemp(prefix="agent-chromium-")
    args = [
        binary,
        *QUIET_FLAGS,
        "--remote-debugging-port=0",
        "--remote-debugging-address=127.0.0.1",
        f"--user-data-dir={user_data_dir}",
        f"--window-size={viewport[0]},{viewport[1]}",
        *extra_args,
    ]
    if headless:
        args.append("--headless=new")
    args.append("about:blank")
    process = subprocess.Popen(  # noqa: ASYNC220 - Popen returns at once; we poll it below
        args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group, so close() can kill every child
    )
    try:
        cdp_url = await _wait_for_devtools(process, Path(user_data_dir), startup_timeout_s)
        playwright = await async_playwright().start()
    except BaseException:
        await asyncio.to_thread(_kill_group, process)
        shutil.rmtree(user_data_dir, ignore_errors=True)
        raise
    try:
        browser = await playwright.chromium.connect_over_cdp(cdp_url)
        context = browser.contexts[0] if browser.contexts else await browser.new_context()
        page = context.pages[0] if context.pages else await context.new_page()
        await page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
    except BaseException as exc:
        await playwright.stop()
        await asyncio.to_thread(_kill_group, process)
        shutil.rmtree(user_data_dir, ignore_errors=True)
        raise BrowserLaunchError(
            f"Chromium at {binary} started but Playwright could not attach: {exc}"
        ) from exc
    return BrowserProcess(process, cdp_url, playwright, browser, context, page, user_data_dir)


async def _wait_for_devtools(
    process: subprocess.Popen[bytes], user_data_dir: Path, timeout_s: float
) -> str:
    """Read the DevTools WebSocket URL that Chromium writes once it listens."""
    port_file = user_data_dir / "DevToolsActivePort"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        if process.poll() is not None:
            raise BrowserLaunchError(
                f"Chromium exited with code {process.returncode} during start-up. Run it by hand "
                "with --headless to see why (a missing library is the usual cause)."
            )
        if port_file.exists():
            lines = port_file.read_text().split()
            if len(lines) >= 2:
                return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
        await asyncio.sleep(0.02)
    raise BrowserLaunchError(f"Chromium did not open its DevTools port within {timeout_s:.0f} s.")
