"""The first process inside a session's sandbox: it starts the session's code processes there.

Run by path inside bubblewrap (``python -I -S box_init.py CONTROL_FD``), as the session's own
unprivileged user, with only the standard library. It

* receives spawn requests from the server on the control socket (a SOCK_SEQPACKET pair): one JSON
  message per request, with the child's stdin, stdout, stderr and any extra pipes attached as file
  descriptors (SCM_RIGHTS), so the server reads and writes a sandboxed child's pipes directly;
* starts each child in its own process group (so a kill takes everything the code started), with
  the per-process CPU-time limit set, and reports ``started`` / ``failed`` and later ``exited``;
  ``started`` is sent before the child may exec, so code that kills this process at once cannot
  make a start that ran look like one that did not;
* kills a child's whole group on request;
* forwards ``127.0.0.1:$BOX_CDP_PORT`` of the sandbox's own network namespace to the session's
  DevTools socket (``$BOX_CDP_SOCKET``), for tools that speak CDP over TCP only (agent-browser),
  and ``127.0.0.1:$BOX_RPC_PORT`` to its ``agent browser`` socket (``$BOX_RPC_SOCKET``), which
  the ``agent`` command, a bash script, reaches through bash's ``/dev/tcp`` without starting a
  Python. That loopback is the sandbox's alone: nothing outside it can connect, and nothing inside
  can reach the host's; what reaches a socket this way could reach it by its path. With outbound
  network on, the box shares the host's network, so it forwards nothing (both ports are 0) and
  agent-browser gets the session's token-guarded port.

When the control socket closes (the server closed the session, or died), it kills every child and
exits, and bubblewrap tears the sandbox down with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import json
import os
import resource
import shutil
import signal
import socket
import sys
from typing import Any

FORWARDS = (  # (port on the box's loopback, the socket it reaches); port 0: none
    (int(os.environ.get("BOX_CDP_PORT", "0")), os.environ.get("BOX_CDP_SOCKET", "")),
    (int(os.environ.get("BOX_RPC_PORT", "0")), os.environ.get("BOX_RPC_SOCKET", "")),
)
_MAX_FDS = 16


class Supervisor:
    def __init__(self, control: socket.socket, cpu_seconds: int) -> None:
        self.control = control
        self.cpu_seconds = cpu_seconds
        self.children: dict[int, int] = {}  # child id -> pid
        self.done = asyncio.Event()

    def send(self, message: dict[str, Any]) -> None:
        with contextlib.suppress(OSError):
            self.control.send(json.dumps(message).encode())

    def on_control(self) -> None:
        try:
            data, fds, _flags, _addr = socket.recv_fds(self.control, 1 << 20, _MAX_FDS)
        except BlockingIOError:
            return
        except OSError:
            data, fds = b"", []
        if not data:
            self.done.set()
            return
        try:
            request = json.loads(data)
        except ValueError:
            for fd in fds:
                os.close(fd)
            return
        if request.get("op") == "spawn":
            self.spawn(request, fds)
        elif request.get("op") == "kill":
            self.kill(int(request["id"]))
        else:
            for fd in fds:
                os.close(fd)

    def spawn(self, request: dict[str, Any], fds: list[int]) -> None:
        """Start a child, and report ``started`` before it may run a line of its code.

        The child waits on a gate pipe between fork and exec until ``started`` is on its way to
        the server. Without it, code such as ``kill -9 -1`` could end this process before the
        report, and the server would say the code never ran when it had. If this process dies
        before opening the gate, the child reads end-of-file and exits without running the code,
        so an unacknowledged start really is one that did not run.
        """
        child_id = int(request["id"])
        env = dict(request.get("env") or {})
        stdin, stdout, stderr, *extra = fds
        for name, fd in zip(request.get("fd_env") or [], extra, strict=False):
            env[name] = str(fd)
        argv = [str(arg) for arg in request["argv"]]
        try:
            executable = _executable(argv[0], env)
            gate_read, gate_write = os.pipe()
        except OSError as exc:
            self.send({"op": "failed", "id": child_id, "error": f"{type(exc).__name__}: {exc}"})
            _close_all(fds)
            return
        pid = os.fork()
        if pid == 0:  # the child: never returns
            os.close(gate_write)
            _exec_behind_gate(
                gate_read,
                executable,
                argv,
                env,
                request.get("cwd") or "/",
                (stdin, stdout, stderr),
                extra,
                self.cpu_seconds,
            )
        os.close(gate_read)
        self.children[child_id] = pid
        self.send({"op": "started", "id": child_id, "pid": pid})
        with contextlib.suppress(OSError):  # a child already gone finds out by itself
            os.write(gate_write, b"go")
        os.close(gate_write)
        _close_all(fds)

    def kill(self, child_id: int) -> None:
        pid = self.children.get(child_id)
        if pid is not None:
            kill_session(pid)

    def reap(self) -> None:
        for child_id, pid in list(self.children.items()):
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done, status = pid, 255 << 8
            if done:
                del self.children[child_id]
                # What the code left running ends with it: its process group, and any group it
                # made in the same session (`timeout` does, and so may a fork bomb's survivors).
                kill_session(pid)
                self.send(
                    {"op": "exited", "id": child_id, "status": os.waitstatus_to_exitcode(status)}
                )

    def kill_all(self) -> None:
        for child_id in list(self.children):
            self.kill(child_id)


def _executable(name: str, env: dict[str, str]) -> str:
    """The file ``name`` runs, found the way exec would; OSError when there is none."""
    if "/" in name:
        found: str | None = name if os.access(name, os.X_OK) else None
    else:
        found = shutil.which(name, path=env.get("PATH", os.defpath))
    if found is None:
        raise FileNotFoundError(errno.ENOENT, "no such program", name)
    return found


def _exec_behind_gate(
    gate: int,
    executable: str,
    argv: list[str],
    env: dict[str, str],
    cwd: str,
    stdio: tuple[int, int, int],
    extra: list[int],
    cpu_seconds: int,
) -> None:
    """In a freshly forked child: set it up, wait for the gate, then exec (or exit 127)."""
    try:
        os.setsid()  # its own session and group, so a kill takes everything the code started
        if cpu_seconds > 0:
            resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
        low = [os.dup(fd) if fd < 3 else fd for fd in stdio]
        for target, fd in enumerate(low):
            os.dup2(fd, target)  # dup2's copies are inheritable; the originals close on exec
        for fd in extra:
            os.set_inheritable(fd, True)
        _close_all_but(set(extra) | {gate})  # the control socket above all: code must not speak
        for number in (signal.SIGPIPE, signal.SIGXFSZ):  # Python ignores these; exec keeps that
            signal.signal(number, signal.SIG_DFL)
        os.chdir(cwd)
        if os.read(gate, 2) != b"go":
            os._exit(127)  # the supervisor died before reporting the start: do not run
        os.execve(executable, argv, env)
    except BaseException as exc:  # nothing may escape a forked child into the event loop
        with contextlib.suppress(BaseException):
            os.write(2, f"could not start {argv[0]}: {type(exc).__name__}: {exc}\n".encode())
    os._exit(127)


def _close_all_but(keep: set[int]) -> None:
    """Close every descriptor above stderr that is not in ``keep``."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd not in keep:
            with contextlib.suppress(OSError):
                os.close(fd)


def _close_all(fds: list[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


def kill_session(leader: int) -> None:
    """SIGKILL every process of the session ``leader`` started (children are started with
    ``start_new_session``); a daemon that made a session of its own (agent-browser's) lives on."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(leader, signal.SIGKILL)
    for _ in range(50):  # processes forking while we kill: go round until none is left
        found = False
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                with open(f"/proc/{entry.name}/stat", encoding="ascii") as handle:
                    stat = handle.read()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            if fields[0] != "Z" and int(fields[3]) == leader:
                found = True
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(int(entry.name), signal.SIGKILL)
        if not found:
            return


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(1 << 16):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def _forward(path: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        upstream_reader, upstream_writer = await asyncio.open_unix_connection(path)
    except OSError:
        writer.close()
        return
    await asyncio.gather(_pump(reader, upstream_writer), _pump(upstream_reader, writer))


async def main() -> int:
    control = socket.socket(fileno=int(sys.argv[1]))
    control.setblocking(False)
    supervisor = Supervisor(control, int(os.environ.get("BOX_CPU_SECONDS", "0")))
    loop = asyncio.get_running_loop()
    loop.add_reader(control.fileno(), supervisor.on_control)
    loop.add_signal_handler(signal.SIGCHLD, supervisor.reap)
    forwarders = []
    for port, path in FORWARDS:
        if port and os.path.exists(path):  # noqa: ASYNC240 - once, at start
            forward = functools.partial(_forward, path)
            forwarders.append(await asyncio.start_server(forward, "127.0.0.1", port))
    supervisor.send({"op": "ready"})
    await supervisor.done.wait()
    supervisor.kill_all()
    for forwarder in forwarders:
        forwarder.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
