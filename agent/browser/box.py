"""A bubblewrap box of its own for each session's local Chromium (``AGENT_BROWSER_SANDBOX``).

The DevTools guard (``cdp_guard``) is a list of what clients may ask; this box is what holds when
a command nobody foresaw gets through it. Inside, Chromium sees:

* ``/usr`` (and the ``/bin``, ``/lib``, ... links), the ``/etc`` files a browser needs (fonts,
  TLS roots, users, name resolution, Chromium's own settings) and the font cache, read-only;
* ``/dev``, its own ``/proc`` (a PID namespace of its own: no process of the server or of another
  session), a size-capped ``/tmp`` and ``/dev/shm``;
* the session's profile folder (``--user-data-dir``, also ``HOME``) and its downloads folder, the
  only writable places, at the same paths as on the host (so a downloads path the router sets
  means the same inside and out);
* nothing else: not the server's files, home, config, logs, profiles folder (profiles are loaded
  and saved by the server as Playwright storage state), nor other sessions' folders, nor the
  server's environment (``--clearenv``).

When the server runs as root, the box runs as a user of its own (``agent.browser.bwrap``) with no
capabilities; Chromium's own sandbox stays on wherever the kernel lets that user make the
namespaces it needs (probed once, see ``chromium_sandbox``), and only otherwise is
``--no-sandbox`` passed, with the reason logged.

With egress control (``AGENT_BLOCK_PRIVATE_ADDRESSES``) the box also gets a network namespace of
its own, and its only way out is the SOCKS5 checkpoint in this process (``agent.browser.egress``);
its first process (``box_start.py``) makes the checkpoint's socket inside the box. Without it the
box shares the host's network, as an unboxed browser does.

Its memory is bounded as a whole (``agent.browser.box_memory``). Closing kills the box's outer
bwrap, which takes its PID namespace, and so every process of the box, with it; then its folders,
its cgroup and its user are released.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from agent import procfs
from agent.browser.box_memory import MemoryGuard, memory_guard
from agent.browser.bwrap import (
    allocate_uid,
    box_user_args,
    parent_dirs,
    release_uid,
    require_box_tools,
    runtime_prefixes,
    system_mounts,
)
from agent.browser.egress import EgressCheckpoint
from agent.browser.flags import QUIET_FLAGS
from agent.config import Settings
from agent.errors import BrowserLaunchError, ConfigError

__all__ = ["BoxOptions", "BrowserBox", "check_box_tools", "chromium_sandbox"]

log = logging.getLogger(__name__)

EGRESS_PORT = 1080
"""The egress checkpoint's port on a box's own loopback."""
_ETC_FILES = (
    "fonts", "ssl", "ca-certificates", "ca-certificates.conf", "passwd", "group", "hosts",
    "resolv.conf", "nsswitch.conf", "host.conf", "gai.conf", "ld.so.cache", "ld.so.conf",
    "ld.so.conf.d", "localtime", "mime.types", "alternatives", "chromium", "chromium.d",
)  # fmt: skip
_TMP_MB = 128
_START = Path(__file__).resolve().parent / "box_start.py"
_BOX_START = "/opt/agent-browser/box_start.py"
_PROBE_TIMEOUT_S = 60.0

_sandbox_verdicts: dict[str, tuple[bool, str]] = {}
_box_failures: dict[str, ConfigError] = {}
_probe_lock = threading.Lock()


@dataclass(frozen=True)
class BoxOptions:
    """How a session's browser box is made."""

    memory_mb: int
    """The memory all its processes together may use (``AGENT_BROWSER_MEMORY_MB``)."""
    egress: bool = False
    """A network of its own, whose only way out is the egress checkpoint."""

    @classmethod
    def from_settings(cls, settings: Settings, *, egress: bool) -> BoxOptions | None:
        """The box ``settings`` ask for; None when ``AGENT_BROWSER_SANDBOX=none``."""
        if settings.browser_sandbox is None:
            return None
        return cls(memory_mb=settings.browser_memory_mb, egress=egress)


class BrowserBox:
    """One session's box: its folders, its user, its memory bound, its egress checkpoint."""

    def __init__(self, options: BoxOptions, binary: str) -> None:
        self.options = options
        self.binary = binary
        self.root = Path(tempfile.mkdtemp(prefix="agent-chromium-"))
        self.profile = self.root / "profile"
        self.downloads = self.root / "downloads"
        self.uid: int | None = None
        self.memory: MemoryGuard | None = None
        self.checkpoint: EgressCheckpoint | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._box_control: socket.socket | None = None
        self._pid_namespace: str | None = None

    @classmethod
    async def create(cls, options: BoxOptions, binary: str) -> BrowserBox:
        """Make the box's folders, pick its user and memory cgroup (nothing runs yet)."""
        box = cls(options, binary)
        try:
            await asyncio.to_thread(box._prepare)
        except BaseException:
            await box.close()
            raise
        return box

    def _prepare(self) -> None:
        chromium_sandbox(self.binary)  # the first time, a probe of a second or so
        if os.geteuid() == 0:
            self.uid = allocate_uid()
            if self.uid is None:
                raise BrowserLaunchError(
                    "Every box user (61000-61999) is in use: close sessions, or lower "
                    "AGENT_MAX_SESSIONS."
                )
        for folder in (self.profile, self.downloads):
            folder.mkdir(mode=0o700)
            if self.uid is not None:
                os.chown(folder, self.uid, self.uid)
        self.memory = memory_guard(self.options.memory_mb)
        if self.options.egress:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            self._control = ours
            # Its number is written into the box's command line: above 10, clear of the pipe's
            # 3 and 4 the wiring sets up.
            self._box_control = socket.socket(fileno=fcntl.fcntl(theirs, fcntl.F_DUPFD_CLOEXEC, 10))
            theirs.close()

    @property
    def sandboxed(self) -> bool:
        """Whether Chromium's own sandbox runs inside the box (probed in ``create``)."""
        return _sandbox_verdicts.get(self.binary, (False, ""))[0]

    def chromium_flags(self) -> list[str]:
        """Flags the box adds to Chromium's command line."""
        flags = [] if self.sandboxed else ["--no-sandbox"]
        if self.options.egress:
            flags += [
                f"--proxy-server=socks5://127.0.0.1:{EGRESS_PORT}",
                # Chromium sends loopback hosts past any proxy unless told not to.
                "--proxy-bypass-list=<-loopback>",
            ]
        return flags

    @property
    def pass_fds(self) -> tuple[int, ...]:
        """File descriptors the box's command must inherit (besides the DevTools pipe)."""
        return (self._box_control.fileno(),) if self._box_control is not None else ()

    @property
    def join_file(self) -> str | None:
        """The cgroup file the box's outer process writes its pid into before it starts."""
        return self.memory.join_file if self.memory is not None else None

    def command(self, chromium: list[str]) -> list[str]:
        """The bwrap command line that runs ``chromium`` (binary and arguments) in the box."""
        return _box_argv(self, chromium)

    async def started(self, process: subprocess.Popen[bytes], timeout_s: float) -> None:
        """The box's command is running: take the checkpoint's socket from it (egress) and let
        the memory guard know its processes.

        Raises:
            BrowserLaunchError: the box did not hand its socket over in time.
        """
        self.process = process
        if self.memory is not None:
            self.memory.attach(process.pid)
        if self._control is None:
            return
        assert self._box_control is not None
        self._box_control.close()
        self._box_control = None
        try:
            listener = await asyncio.wait_for(
                asyncio.to_thread(_receive_listener, self._control), timeout_s
            )
        except (TimeoutError, OSError, ValueError) as exc:
            raise BrowserLaunchError(f"the browser box did not open its network: {exc}") from exc
        self.checkpoint = EgressCheckpoint(listener)
        await self.checkpoint.start()

    def note_namespace(self) -> None:
        """Remember the box's PID namespace (once its processes run), to wait for them all at
        close."""
        if self.process is None or self._pid_namespace is not None:
            return
        own = procfs.namespace()
        for pid in procfs.children(self.process.pid):
            namespace = procfs.namespace(pid)
            if namespace is not None and namespace != own:
                self._pid_namespace = namespace
                return

    def kill(self) -> None:
        """Kill every process of the box at once (its outer bwrap, and with it the namespace)."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)

    async def close(self) -> None:
        """Kill the box, wait for its last process, and release all it held."""
        self.kill()
        if self.process is not None:
            await asyncio.to_thread(self._wait_empty)
        if self.checkpoint is not None:
            await self.checkpoint.close()
            self.checkpoint = None
        for control in (self._control, self._box_control):
            if control is not None:
                control.close()
        self._control = self._box_control = None
        if self.memory is not None:
            await asyncio.to_thread(self.memory.close)
        shutil.rmtree(self.root, ignore_errors=True)
        release_uid(self.uid)
        self.uid = None

    def _wait_empty(self) -> None:
        assert self.process is not None
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while self._pid_namespace and _namespace_alive(self._pid_namespace):
            if time.monotonic() > deadline:
                log.warning("processes of a browser box outlived it by 10 s")
                return
            time.sleep(0.02)


def _box_argv(box: BrowserBox, chromium: list[str]) -> list[str]:
    bwrap = shutil.which("bwrap") or "bwrap"
    argv = [bwrap, *system_mounts(_ETC_FILES), "--ro-bind-try", *["/var/cache/fontconfig"] * 2]
    tmp_size = str(_TMP_MB * 1024 * 1024)
    argv += [
        "--dev", "/dev",
        "--size", tmp_size, "--perms", "1777", "--tmpfs", "/dev/shm",
        "--proc", "/proc",
        "--size", tmp_size, "--perms", "1777", "--tmpfs", "/tmp",
    ]  # fmt: skip
    # After the box's own /tmp, which would hide them: a server's virtualenv under /tmp.
    install = os.path.dirname(os.path.realpath(box.binary))
    if not install.startswith("/usr/"):  # Chrome in /opt, Playwright's build in a home
        argv += [*parent_dirs(install), "--ro-bind", install, install]
    if box.options.egress:
        for prefix in runtime_prefixes(node=False):  # the first process is Python
            argv += [*parent_dirs(prefix), "--ro-bind", prefix, prefix]
        argv += ["--perms", "0755", "--dir", os.path.dirname(_BOX_START)]
        argv += ["--ro-bind", str(_START), _BOX_START]
    argv += [
        *parent_dirs(box.profile),
        "--bind", str(box.profile), str(box.profile),
        "--bind", str(box.downloads), str(box.downloads),
        "--chdir", "/",
        "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
        "--hostname", "browser",
        "--die-with-parent", "--new-session",
        "--clearenv",
        "--setenv", "PATH", "/usr/bin:/bin",
        "--setenv", "HOME", str(box.profile),
        "--setenv", "TMPDIR", "/tmp",
        "--setenv", "LANG", "C.UTF-8",
    ]  # fmt: skip
    if box.options.egress:
        argv.append("--unshare-net")
    argv += box_user_args(box.uid)
    if box.options.egress:
        assert box._box_control is not None
        control = str(box._box_control.fileno())
        argv += [sys.executable, "-I", "-S", _BOX_START, control, str(EGRESS_PORT)]
    return argv + chromium


def _receive_listener(control: socket.socket) -> socket.socket:
    """The listening socket the box's first process sends (blocking; run in a thread)."""
    control.settimeout(_PROBE_TIMEOUT_S)
    _, fds, _, _ = socket.recv_fds(control, 64, 1)
    if not fds:
        raise ValueError("the box ended before it opened its network")
    return socket.socket(fileno=fds[0])


def _namespace_alive(namespace: str) -> bool:
    """Whether any process (not a zombie) is still in PID namespace ``namespace``."""
    for pid in procfs.pids():
        if procfs.namespace(pid) != namespace:
            continue
        found = procfs.stat(pid)
        if found is not None and not found.zombie:
            return True
    return False


def chromium_sandbox(binary: str) -> tuple[bool, str]:
    """Whether Chromium's own sandbox works inside a browser box here, and if not, why; probed
    once per binary by starting it in a box (about a second), then remembered.

    Raises:
        ConfigError: Chromium does not start in a box at all, sandbox or not.
    """
    with _probe_lock:
        if binary in _box_failures:  # probed once: no two Chromium starts per launch after that
            raise _box_failures[binary]
        if binary not in _sandbox_verdicts:
            try:
                _sandbox_verdicts[binary] = _probe(binary)
            except ConfigError as failure:
                _box_failures[binary] = failure
                raise
            works, reason = _sandbox_verdicts[binary]
            if not works:
                log.warning(
                    "Chromium's own sandbox cannot run in the browser box here (%s): browsers "
                    "run with --no-sandbox, confined by the box alone.",
                    reason,
                )
        return _sandbox_verdicts[binary]


def _probe(binary: str) -> tuple[bool, str]:
    sandboxed = _probe_run(binary, [])
    if sandboxed is None:
        return True, ""
    unsandboxed = _probe_run(binary, ["--no-sandbox"])
    if unsandboxed is not None:
        raise ConfigError(
            f"Chromium ({binary}) does not start in a browser box ({unsandboxed}). Set "
            "AGENT_BROWSER_SANDBOX=none to run browsers unboxed as the server's own user "
            "(trusted single-user mode only), or fix the cause above."
        )
    return False, sandboxed


def _probe_run(binary: str, flags: list[str]) -> str | None:
    """Start Chromium in a box to print a blank page's DOM; None when it did, else why not."""
    box = BrowserBox(BoxOptions(memory_mb=1024), binary)
    try:
        if os.geteuid() == 0:
            box.uid = allocate_uid()
        for folder in (box.profile, box.downloads):
            folder.mkdir(mode=0o700)
            if box.uid is not None:
                os.chown(folder, box.uid, box.uid)
        quiet = [flag for flag in QUIET_FLAGS if flag != "--no-sandbox"]
        chromium = [
            binary, *quiet, *flags, "--headless=new", f"--user-data-dir={box.profile}",
            "--dump-dom", "about:blank",
        ]  # fmt: skip
        try:
            done = subprocess.run(
                box.command(chromium),
                capture_output=True,
                text=True,
                timeout=_PROBE_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return str(exc)
        if done.returncode == 0 and "<html" in done.stdout:
            return None
        lines = [line for line in done.stderr.splitlines() if "FATAL" in line or "rror" in line]
        return (lines[-1] if lines else done.stderr.strip()[-300:]) or f"exit {done.returncode}"
    finally:
        shutil.rmtree(box.root, ignore_errors=True)
        release_uid(box.uid)


def check_box_tools() -> None:
    """Raise ``ConfigError`` naming what is missing to make browser boxes here."""
    require_box_tools(
        no_bwrap="Each session's browser runs in a bubblewrap box, and bwrap is not installed: "
        "install it (`apt-get install bubblewrap`), or set AGENT_BROWSER_SANDBOX=none to run "
        "browsers as the server's own user (trusted single-user mode only).",
        no_setpriv="The browser box runs each session's browser as a user of its own, which needs "
        "setpriv (`apt-get install util-linux`), or set AGENT_BROWSER_SANDBOX=none.",
    )
