"""A sandbox per session for its code: bubblewrap, a user of its own, and resource limits.

Why bubblewrap: it is a small setuid-free tool made for exactly this (Flatpak's sandbox), it
ships in Debian, needs no daemon, and builds everything a session needs from kernel namespaces
in ~20 ms: a mount namespace with a read-only, minimal view of the system; a PID namespace; a
network namespace with nothing but its own loopback; UTS and IPC namespaces. Containers (Docker,
gVisor) would need a daemon or a runtime the target machines do not have.

Each session gets one long-lived sandbox (a "box"), started on its first code call and ended
with the session. Inside:

* ``/usr`` (and the Python and Node.js installations) read-only, a handful of ``/etc`` files, our
  worker scripts under ``/opt/agent``; nothing else of the host: no home, no server source or
  config, no profiles folder, no other session's folder, no ``/proc`` of host processes;
* ``/work``: the session's own working folder, the only writable place besides a size-capped
  ``/tmp``;
* the session's DevTools socket and its ``agent browser`` socket, at ``/run/agent/``: the one
  channel to its own browser. The box's loopback port 9222 is forwarded to the DevTools socket
  for tools that need TCP (agent-browser), and 9223 to the ``agent browser`` socket for the
  ``agent`` command, which reaches it with bash's ``/dev/tcp``;
* when the server runs as root, every process runs as a user of the session's own
  (``61000``-``61999``), with no capabilities, so the per-user process limit is the session's;
* limits (settings, see ``agent.config``): private memory (``sandbox_memory_mb``), CPU seconds
  per process, processes, file size, and the size of ``/tmp``.

``box_init.py`` is the box's first process: it starts children on request, with pipes the server
hands over as file descriptors, so a warm worker in the box is as fast as one outside.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agent.browser.bwrap import (
    UID_RANGE,
    allocate_uid,
    box_user_args,
    parent_dirs,
    require_box_tools,
    runtime_prefixes,
    system_mounts,
)
from agent.browser.bwrap import release_uid as _release_uid
from agent.config import Settings
from agent.errors import ConfigError, ExecutorStartError
from agent.executors.launcher import Layout
from agent.executors.node_deps import NODE_DIR

__all__ = [
    "BOX_CDP_PORT",
    "BOX_LAYOUT_ROOT",
    "BOX_RPC_PORT",
    "BoxChild",
    "BoxLauncher",
    "box_path",
    "check_sandbox",
    "runtime_prefixes",
]

BOX_LAYOUT_ROOT = "/opt/agent"
BOX_CDP_PORT = 9222
"""The port of the box's own loopback that reaches the session's DevTools."""
BOX_RPC_PORT = 9223
"""The port of the box's own loopback that reaches the session's ``agent browser`` socket."""
_SCRIPTS = Path(__file__).resolve().parent
_BOX_INIT = _SCRIPTS / "box_init.py"
_BOX_CDP_SOCKET = "/run/agent/cdp.sock"
_BOX_RPC_SOCKET = "/run/agent/rpc.sock"
_ETC_FILES = (
    "passwd", "group", "hosts", "resolv.conf", "nsswitch.conf", "host.conf", "ssl",
    "ca-certificates", "ca-certificates.conf", "alternatives", "ld.so.cache", "ld.so.conf",
    "ld.so.conf.d", "localtime", "mime.types",
)  # fmt: skip
_START_TIMEOUT_S = 20.0


def _allocate_uid() -> int:
    # One allocator for code boxes and browser boxes: they never share a user.
    uid = allocate_uid()
    if uid is None:
        raise ExecutorStartError(f"all {UID_RANGE} sandbox users are in use")
    return uid


def check_sandbox(settings: Settings) -> None:
    """Raise ``ConfigError`` naming what is missing when the sandbox cannot be set up.

    Does nothing when the sandbox is off (``AGENT_SANDBOX=none``).
    """
    if settings.sandbox is None:
        return
    bwrap = require_box_tools(
        no_bwrap="Code runs in a bubblewrap sandbox, and bwrap is not installed: install it "
        "(`apt-get install bubblewrap`), or set AGENT_SANDBOX=none to run code as the "
        "server's own user (trusted single-user mode only).",
        no_setpriv="The sandbox runs each session's code as a user of its own, which needs "
        "setpriv (`apt-get install util-linux`), or set AGENT_SANDBOX=none.",
    )
    probe = [bwrap, "--ro-bind", "/", "/", "--unshare-pid", "--unshare-net", "--dev", "/dev"]
    if os.geteuid() != 0:
        probe.append("--unshare-user")
    try:
        completed = subprocess.run(
            [*probe, "--", "true"], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigError(f"bwrap could not be run ({exc}); set AGENT_SANDBOX=none") from exc
    if completed.returncode != 0:
        raise ConfigError(
            "bwrap cannot create the sandbox's namespaces here "
            f"({completed.stderr.strip()[-300:] or completed.returncode}): run the server as "
            "root or enable unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone"
            "=1), or set AGENT_SANDBOX=none (trusted single-user mode)."
        )


class BoxChild:
    """A child started by a session's box."""

    def __init__(self, box: BoxLauncher, child_id: int) -> None:
        self._box = box
        self._id = child_id
        self._status: int | None = None
        self.inner_pid: int | None = None  # its pid inside the box's PID namespace
        self.exited = asyncio.Event()
        self.stdout = asyncio.StreamReader(limit=1 << 26)
        self.stderr = asyncio.StreamReader(limit=1 << 26)

    @property
    def returncode(self) -> int | None:
        return self._status

    def _exit(self, status: int) -> None:
        self._status = status
        self.exited.set()

    @property
    def pid(self) -> int | None:
        """Its process id on this machine (found through the box's process tree)."""
        if self.inner_pid is None or self._box.process is None:
            return None
        return _host_pid(self._box.process.pid, self.inner_pid)

    async def kill(self) -> None:
        if self._status is None:
            self._box._send({"op": "kill", "id": self._id})


class BoxLauncher:
    """Starts a session's children inside its bubblewrap box (see the module docstring)."""

    def __init__(
        self,
        *,
        root: Path,
        workdir: Path,
        bin_dir: Path,
        cdp_socket: Path,
        rpc_socket: Path,
        settings: Settings,
    ) -> None:
        self.root = root
        self.workdir = workdir
        self.bin_dir = bin_dir
        self.cdp_socket = cdp_socket
        self.rpc_socket = rpc_socket
        self.settings = settings
        self.layout = Layout(
            workdir="/work",
            bin_dir=f"{BOX_LAYOUT_ROOT}/bin",
            python=sys.executable,
            python_worker=f"{BOX_LAYOUT_ROOT}/python_worker.py",
            node_dir=f"{BOX_LAYOUT_ROOT}/node",
            browser_cli=f"{BOX_LAYOUT_ROOT}/browser_cli.py",
            browser_client=f"{BOX_LAYOUT_ROOT}/browser_client.py",
            cdp_url=f"ws+unix://{_BOX_CDP_SOCKET}:/devtools/browser",
            rpc_socket=_BOX_RPC_SOCKET,
            rpc_port=0 if settings.sandbox_outbound_network else BOX_RPC_PORT,
        )
        self.uid: int | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._ids = 0
        self._children: dict[int, BoxChild] = {}
        self._starts: dict[int, asyncio.Future[str | None]] = {}
        self._ready: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stderr: str | None = None  # what the box said on stderr, read once it ended

    # -- starting the box ------------------------------------------------------------------------

    def _argv(self, control_fd: int) -> list[str]:
        settings = self.settings
        bwrap = shutil.which("bwrap") or "bwrap"
        # No forwarded port when the box shares the host's network (see run.py).
        forwarded_port = 0 if settings.sandbox_outbound_network else BOX_CDP_PORT
        argv = [bwrap, *system_mounts(_ETC_FILES)]
        argv += [
            "--perms", "0755", "--dir", BOX_LAYOUT_ROOT,
            "--ro-bind", str(_SCRIPTS / "python_worker.py"), self.layout.python_worker,
            "--ro-bind", str(_SCRIPTS / "browser_cli.py"), self.layout.browser_cli,
            "--ro-bind", str(_SCRIPTS / "browser_client.py"), self.layout.browser_client,
            "--ro-bind", str(_BOX_INIT), f"{BOX_LAYOUT_ROOT}/box_init.py",
            "--ro-bind-try", str(NODE_DIR), self.layout.node_dir,
            "--ro-bind", str(self.bin_dir), self.layout.bin_dir,
            "--dev", "/dev",
            "--proc", "/proc",
            "--size", str(settings.sandbox_tmp_mb * 1024 * 1024), "--perms", "1777",
            "--tmpfs", "/tmp",
            "--tmpfs", "/run",
            "--perms", "0755", "--dir", "/run/agent",
            "--bind", str(self.cdp_socket), _BOX_CDP_SOCKET,
            "--bind", str(self.rpc_socket), _BOX_RPC_SOCKET,
            "--bind", str(self.workdir), "/work",
        ]  # fmt: skip
        # Bound last, so that none of the box's own mounts (its /tmp and /run, /work) hides them:
        # a virtualenv made under /tmp is a common place for the server's Python. A bind mount is
        # not part of the tmpfs it sits in, so it does not count against /tmp's size.
        for prefix in runtime_prefixes():
            argv += [*parent_dirs(prefix), "--ro-bind", prefix, prefix]
        argv += [
            "--chdir", "/work",
            "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--hostname", "sandbox",
            "--die-with-parent", "--new-session",
            "--clearenv",
            "--setenv", "PATH", f"{self.layout.bin_dir}:{box_path()}",
            "--setenv", "HOME", "/work",
            "--setenv", "TMPDIR", "/tmp",
            "--setenv", "LANG", "C.UTF-8",
            "--setenv", "BOX_CPU_SECONDS", str(settings.sandbox_cpu_seconds),
            "--setenv", "BOX_CDP_SOCKET", _BOX_CDP_SOCKET,
            "--setenv", "BOX_CDP_PORT", str(forwarded_port),
            "--setenv", "BOX_RPC_SOCKET", _BOX_RPC_SOCKET,
            "--setenv", "BOX_RPC_PORT", str(self.layout.rpc_port),
        ]  # fmt: skip
        if not settings.sandbox_outbound_network:
            argv.append("--unshare-net")
        init = [
            sys.executable, "-I", "-S", f"{BOX_LAYOUT_ROOT}/box_init.py", str(control_fd),
        ]  # fmt: skip
        limits = [
            "prlimit",
            # Private writable memory, not address space: V8 reserves many GiB for WebAssembly.
            f"--data={settings.sandbox_memory_mb * 1024 * 1024}",
            f"--nproc={settings.sandbox_processes}",
            f"--fsize={settings.sandbox_file_size_mb * 1024 * 1024}",
            "--core=0",
            "--",
        ]
        assert self.uid is not None or os.geteuid() != 0  # start() gives root's box a user
        return argv + box_user_args(self.uid) + limits + init

    async def start(self) -> None:
        """Start the box and wait until its first process says it is ready."""
        self._loop = asyncio.get_running_loop()
        if os.geteuid() == 0:
            self.uid = _allocate_uid()
            for path in (self.workdir, self.cdp_socket, self.rpc_socket):
                try:
                    os.chown(path, self.uid, self.uid)
                except OSError as exc:  # e.g. a /tmp cleaner removed the session's folder
                    _release_uid(self.uid)
                    self.uid = None
                    raise ExecutorStartError(f"the sandbox could not start: {exc}") from exc
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.process = subprocess.Popen(  # noqa: ASYNC220 - returns at once
                self._argv(theirs.fileno()),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                pass_fds=(theirs.fileno(),),
                start_new_session=True,
            )
        except OSError as exc:
            ours.close()
            raise ExecutorStartError(f"the sandbox could not start: {exc}") from exc
        finally:
            theirs.close()
        ours.setblocking(False)
        self._control = ours
        self._ready = self._loop.create_future()
        self._loop.add_reader(ours.fileno(), self._on_control)
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), _START_TIMEOUT_S)
        except (TimeoutError, ExecutorStartError) as exc:
            # The control socket closes a moment before bwrap is reaped: wait for it, so that
            # what it (or the first process in the box) said on stderr is the reason given.
            reason = await self.exit_reason()
            await self.close()
            raise ExecutorStartError(
                f"the sandbox did not start: {reason or exc or 'no answer'}"
            ) from None

    async def exit_reason(self, wait_s: float = 2.0) -> str:
        """Why the box ended, once it has: the end of its stderr and its exit status ("" while
        it still runs after ``wait_s``)."""
        process = self.process
        if process is None:
            return ""
        if process.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                await asyncio.to_thread(process.wait, wait_s)
        if process.returncode is None:
            return ""
        if self._stderr is None and process.stderr is not None and not process.stderr.closed:
            self._stderr = _read_available(process.stderr.fileno())
        said = " ".join((self._stderr or "").split())[-500:]
        status = f"exit status {process.returncode}"
        return f"{said} ({status})" if said else status

    # -- the control channel ----------------------------------------------------------------------

    def _send(self, message: dict[str, Any], fds: Sequence[int] = ()) -> None:
        if self._control is None:
            raise ExecutorStartError("the sandbox has closed")
        data = json.dumps(message).encode()
        if fds:
            socket.send_fds(self._control, [data], list(fds))
        else:
            self._control.send(data)

    def _on_control(self) -> None:
        assert self._control is not None
        try:
            data = self._control.recv(1 << 16)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._lost()
            return
        message = json.loads(data)
        op = message.get("op")
        if op == "ready" and self._ready is not None and not self._ready.done():
            self._ready.set_result(None)
        elif op in ("started", "failed"):
            child = self._children.get(int(message["id"]))
            if child is not None and isinstance(message.get("pid"), int):
                child.inner_pid = message["pid"]
            future = self._starts.pop(int(message["id"]), None)
            if future is not None and not future.done():
                future.set_result(message.get("error") if op == "failed" else None)
        elif op == "exited":
            child = self._children.pop(int(message["id"]), None)
            if child is not None:
                child._exit(int(message["status"]))

    def _lost(self) -> None:
        """The box went away: every child counts as killed."""
        if self._control is not None and self._loop is not None:
            with contextlib.suppress(Exception):
                self._loop.remove_reader(self._control.fileno())
            self._control.close()
            self._control = None
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(ExecutorStartError("the sandbox exited at start-up"))
        for future in self._starts.values():
            if not future.done():
                future.set_result("the sandbox has closed")
        self._starts.clear()
        for child in self._children.values():
            child._exit(-9)
        self._children.clear()

    @property
    def alive(self) -> bool:
        return self._control is not None

    # -- children ---------------------------------------------------------------------------------

    async def spawn(
        self, argv: Sequence[str], *, env: dict[str, str], extra_fds: Sequence[tuple[str, int]] = ()
    ) -> BoxChild:
        if self._control is None or self._loop is None:
            raise ExecutorStartError("the session's sandbox has closed")
        loop = self._loop
        self._ids += 1
        child_id = self._ids
        child = BoxChild(self, child_id)
        out_read, out_write = os.pipe()
        err_read, err_write = os.pipe()
        devnull = os.open(os.devnull, os.O_RDONLY)
        started: asyncio.Future[str | None] = loop.create_future()
        self._starts[child_id] = started
        self._children[child_id] = child
        try:
            self._send(
                {
                    "op": "spawn",
                    "id": child_id,
                    "argv": list(argv),
                    "env": env,
                    "cwd": self.layout.workdir,
                    "fd_env": [name for name, _ in extra_fds],
                },
                [devnull, out_write, err_write, *(fd for _, fd in extra_fds)],
            )
        finally:
            for fd in (devnull, out_write, err_write):
                os.close(fd)
        error = await started
        if error is not None:
            self._children.pop(child_id, None)
            os.close(out_read)
            os.close(err_read)
            raise ExecutorStartError(f"could not start {argv[0]} in the sandbox: {error}")
        for fd, reader in ((out_read, child.stdout), (err_read, child.stderr)):
            await loop.connect_read_pipe(
                lambda reader=reader: asyncio.StreamReaderProtocol(reader),  # type: ignore[misc]
                os.fdopen(fd, "rb", buffering=0),
            )
        return child

    async def close(self) -> None:
        """End the box: every process in it dies with its PID namespace."""
        self._lost()
        process = self.process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, 9)
            await asyncio.to_thread(_wait, process)
        if process is not None and process.stderr is not None:
            process.stderr.close()
        _release_uid(self.uid)
        self.uid = None


def _host_pid(box_pid: int, inner_pid: int) -> int | None:
    """The pid on this machine of the process that is ``inner_pid`` inside a box (its status's
    NSpid line lists both), looked for below the box's bwrap process."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        lines = status.splitlines()
        nspid = next((line.split()[1:] for line in lines if line.startswith("NSpid")), [])
        if len(nspid) >= 2 and int(nspid[-1]) == inner_pid and _descends(int(entry.name), box_pid):
            return int(entry.name)
    return None


def _descends(pid: int, ancestor: int) -> bool:
    for _ in range(64):
        if pid == ancestor:
            return True
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        pid = int(stat[stat.rindex(")") + 2 :].split()[1])
        if pid <= 1:
            return False
    return False


def _read_available(fd: int) -> str:
    """What a pipe holds now, without waiting for a writer that may linger."""
    os.set_blocking(fd, False)
    chunks: list[bytes] = []
    with contextlib.suppress(OSError):
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
            if sum(map(len, chunks)) > 1 << 20:
                break
    return b"".join(chunks).decode(errors="replace").strip()


def _wait(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


def box_path() -> str:
    """PATH inside the box (after its own bin folder): where python, node and bash are."""
    folders = [os.path.dirname(sys.executable)]
    node = shutil.which("node")
    if node:
        folders.append(os.path.dirname(os.path.realpath(node)))
    folders += ["/usr/local/bin", "/usr/bin", "/bin"]
    return ":".join(dict.fromkeys(folders))
