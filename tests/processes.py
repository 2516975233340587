"""Which processes exist, as ``/proc`` shows them (``agent.procfs``): those a test run or a
test marked in their environment, everything below them, and a pid that has ended."""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Sequence

from agent import procfs

__all__ = ["ended_pid", "processes_of", "processes_with_env"]


def processes_with_env(name: str, value: str) -> dict[int, str]:
    """Live processes (not zombies) whose environment holds ``name=value``: pid -> command.

    A test gives a process it starts a marker of its own, then finds everything it (and its
    children, which inherit the marker) left running. A child that drops its environment (a
    sandboxed one: bubblewrap's ``--clearenv``) has no marker: :func:`processes_of` finds those.
    """
    marker = f"{name}={value}".encode()
    return {p.pid: p.command for p in _process_table() if p.marked(marker) and not p.zombie}


def processes_of(name: str, value: str, *, roots: Sequence[int] = ()) -> dict[int, str]:
    """Live processes (not zombies) of a run that marked what it starts with ``name=value``:
    those whose environment holds the marker, and everything below them or below ``roots`` in
    the process tree, whatever its environment. pid -> command; ``roots`` are left out.

    A session's sandbox starts its processes with a cleared environment (bubblewrap's
    ``--clearenv``), so they carry no marker; they stay below the sandbox's first process, which
    does (it is the init of their PID namespace: an orphan in the sandbox is re-parented to it,
    and when it ends the kernel kills everything in the sandbox).
    """
    marker = f"{name}={value}".encode()
    table = _process_table()
    children: dict[int, list[int]] = {}
    for process in table:
        children.setdefault(process.ppid, []).append(process.pid)
    ours = {p.pid for p in table if p.marked(marker)}
    pending = [*ours, *roots]
    while pending:
        for child in children.get(pending.pop(), ()):
            if child not in ours:
                ours.add(child)
                pending.append(child)
    return {
        p.pid: p.command for p in table if p.pid in ours and not p.zombie and p.pid not in roots
    }


@dataclasses.dataclass(frozen=True)
class _Process:
    pid: int
    ppid: int
    zombie: bool
    command: str
    environ: tuple[bytes, ...]

    def marked(self, marker: bytes) -> bool:
        return marker in self.environ


def _process_table() -> list[_Process]:
    """Every process this user may inspect, as ``/proc`` shows it now."""
    table: list[_Process] = []
    for pid in procfs.pids():
        stat, argv = procfs.stat(pid), procfs.cmdline(pid)
        if stat is None or argv is None:
            continue  # it has just ended
        # Another user's environment cannot be read: no marker, but its children may be ours.
        environ = procfs.environ(pid) or []
        command = argv[0].decode(errors="replace") if argv else ""
        table.append(_Process(pid, stat.ppid, stat.zombie, command, tuple(environ)))
    return table


def ended_pid() -> int:
    """The pid of a process that has ended (and been waited for): /proc has nothing of it."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid
