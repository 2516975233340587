"""Launching Chromium and connecting Playwright to it.

Each session owns one Chromium process, started by us (not by Playwright). It listens on no TCP
port: it speaks DevTools over a pipe to this process alone, and a ``CdpRouter`` shares that pipe
between the session's clients (see ``handle.py``). Given ``BoxOptions`` it runs in a bubblewrap
box of its own (``box.py``), which the server's sessions do by default.

Closing kills the whole process group (or the whole box), so no renderer or GPU helper is left
behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.async_api import BrowserContext, Page

from agent import procfs
from agent.browser.box import BoxOptions, BrowserBox, check_box_tools, chromium_sandbox
from agent.browser.cdp_router import CdpRouter, PipeUpstream
from agent.browser.flags import QUIET_FLAGS
from agent.browser.handle import BrowserHandle, attach_playwright
from agent.config import Settings
from agent.errors import BrowserLaunchError, BrowserNotFoundError

__all__ = [
    "QUIET_FLAGS",
    "BoxOptions",
    "BrowserProcess",
    "check_browser_box",
    "find_chromium",
    "launch_browser",
]

log = logging.getLogger(__name__)

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


def check_browser_box(settings: Settings) -> None:
    """At start-up: raise ``ConfigError`` saying what is missing when browser boxes cannot be
    made here (bwrap, setpriv, or Chromium does not start in one), and find out, once, whether
    Chromium's own sandbox runs in one (logged when it cannot). Nothing when
    ``AGENT_BROWSER_SANDBOX=none``.

    Raises:
        ConfigError: as above.
        BrowserNotFoundError: no Chromium to box.
    """
    if settings.browser_sandbox is None:
        return
    check_box_tools()
    chromium_sandbox(find_chromium(str(settings.browser_path) if settings.browser_path else None))


class BrowserProcess(BrowserHandle):
    """A Chromium started by this process for one session, in a box of its own or not."""

    kind = "local"

    def __init__(
        self,
        *,
        process: subprocess.Popen[bytes],
        user_data_dir: str,
        box: BrowserBox | None = None,
        **parts: Any,
    ) -> None:
        super().__init__(**parts)
        self.process = process
        self.user_data_dir = user_data_dir
        self.box = box
        self._ended_by: str | None = None
        self._watch: asyncio.Task[None] | None = None
        if box is not None and box.memory is not None:
            self._watch = asyncio.get_running_loop().create_task(
                box.memory.watch(self._past_memory_limit)
            )

    @property
    def alive(self) -> bool:
        return self.process.poll() is None and super().alive

    @property
    def pid(self) -> int:
        return self.process.pid

    def ended_by_limit(self) -> str | None:
        if self._ended_by is None and self.box is not None and self.box.memory is not None:
            if self.box.memory.kind != "watchdog" and self.box.memory.exceeded():
                self._end(self.box.memory.limit_mb)
        return self._ended_by

    async def _past_memory_limit(self) -> None:
        assert self.box is not None and self.box.memory is not None
        self._end(self.box.memory.limit_mb)

    def _end(self, limit_mb: int) -> None:
        """End the whole browser for going past its memory limit: the kernel kills one process
        (a renderer, say), and a browser missing one must not go on."""
        if self._ended_by is None:
            self._ended_by = (
                f"its browser went past the session's memory limit, AGENT_BROWSER_MEMORY_MB "
                f"({limit_mb} MiB), and was ended"
            )
            log.warning("a session's browser %s", self._ended_by)
        if self.box is not None:
            self.box.kill()

    def egress_refusals(self, since: float) -> list[tuple[str, str]]:
        if self.box is None or self.box.checkpoint is None:
            return []
        return self.box.checkpoint.refusals(since)

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
        """Close Playwright's connection and kill the browser's whole process group (its whole
        box), then remove its folders."""
        if self._watch is not None:
            self._watch.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.browser.close(), timeout=5)
        if self.box is not None:
            await self.box.close()
        else:
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
    return any(not found.zombie and found.pgrp == group for found in procfs.processes().values())


def _spawn(
    command: list[str], read_fd: int, write_fd: int, box: BrowserBox | None
) -> subprocess.Popen[bytes]:
    """Start ``command`` with the DevTools pipe on its fds 3 (commands in) and 4 (messages out),
    in a process group of its own; a box's first process joins the box's cgroup first."""
    # Moved above 10 first: wiring "3<&4 4>&N 4<&-" would close the very fd it had just wired.
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (read_fd, write_fd)]
    join = ""
    if box is not None and box.join_file:
        join = f"echo $$ > {shlex.quote(box.join_file)} || exit 125; "
    wiring = f'{join}exec "$0" "$@" 3<&{high[0]} 4>&{high[1]} {high[0]}<&- {high[1]}>&-'
    try:
        return subprocess.Popen(
            ["bash", "-c", wiring, *command],  # bash: POSIX sh takes one-digit fds only
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(*high, *(box.pass_fds if box is not None else ())),
            start_new_session=True,  # its own process group, so close() can kill every child
            # A box's own processes start with an environment of their own (--clearenv); its
            # bwrap processes, outside and at its pid 1, get none of the server's either.
            env=None if box is None else {"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        )
    finally:
        for fd in high:
            os.close(fd)


async def launch_browser(
    *,
    executable: str | None = None,
    headless: bool = True,
    viewport: tuple[int, int] = (1280, 800),
    extra_args: tuple[str, ...] = (),
    startup_timeout_s: float = 20.0,
    box: BoxOptions | None = None,
) -> BrowserProcess:
    """Start a private Chromium speaking DevTools over a pipe, and attach Playwright to it.

    ``box``: run it in a bubblewrap box of its own (``agent.browser.box``). A headed browser
    (``headless=False``) cannot show a window from a box and runs unboxed.
    """
    binary = find_chromium(executable)
    confined: BrowserBox | None = None
    if box is not None and not headless:
        log.warning("a headed browser cannot run in a box: this one runs unboxed")
    elif box is not None:
        confined = await BrowserBox.create(box, binary)
    try:
        return await _launch(binary, headless, viewport, extra_args, startup_timeout_s, confined)
    except BaseException:
        if confined is not None:
            await confined.close()
        raise


async def _launch(
    binary: str,
    headless: bool,
    viewport: tuple[int, int],
    extra_args: tuple[str, ...],
    startup_timeout_s: float,
    box: BrowserBox | None,
) -> BrowserProcess:
    if box is not None:
        user_data_dir = str(box.profile)
        flags = [*(f for f in QUIET_FLAGS if f != "--no-sandbox"), *box.chromium_flags()]
    else:
        user_data_dir = tempfile.mkdtemp(prefix="agent-chromium-")
        flags = list(QUIET_FLAGS)
    args = [
        *flags,
        "--remote-debugging-pipe",
        f"--user-data-dir={user_data_dir}",
        f"--window-size={viewport[0]},{viewport[1]}",
        *extra_args,
    ]
    if headless:
        args.append("--headless=new")
    args.append("about:blank")
    command = box.command([binary, *args]) if box is not None else [binary, *args]
    # Chromium reads DevTools commands on its fd 3 and writes on its fd 4.
    to_browser_read, to_browser_write = os.pipe()
    from_browser_read, from_browser_write = os.pipe()
    try:
        process = _spawn(command, to_browser_read, from_browser_write, box)
        if box is not None:
            box.process = process  # from now on closing the box kills it
    finally:
        os.close(to_browser_read)
        os.close(from_browser_write)
    router = CdpRouter(
        await PipeUpstream.open(from_browser_read, to_browser_write),
        downloads_dir=str(box.downloads) if box is not None else None,
    )
    try:
        if box is not None:
            await box.started(process, startup_timeout_s)
        browser, sockets, socket_dir = await attach_playwright(router, timeout_s=startup_timeout_s)
    except BaseException as exc:
        code = process.poll()
        await router.close()
        if box is None:
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
    if box is not None:
        box.note_namespace()
    handle = BrowserProcess(
        process=process,
        user_data_dir=user_data_dir,
        box=box,
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
