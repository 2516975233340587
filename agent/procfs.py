"""Linux's ``/proc``, read in one place: the process table, a process's parent, group, state,
command line, environment, status, children and namespaces, its memory (RSS, PSS) and CPU time,
and the machine's memory.

Every reader answers for a process that has just ended as if it were not there (``None``, an
empty list, zero) rather than raising: between listing ``/proc`` and reading a file of it, any
process may end, and every caller treats that the same way.

``agent/executors/box_init.py`` keeps its own short reader: it runs as a standalone script inside
a sandbox, where this package is not importable.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ProcessStat",
    "children",
    "cmdline",
    "environ",
    "memory_total_kib",
    "namespace",
    "pids",
    "processes",
    "rss_kib",
    "rss_pss_kib",
    "stat",
    "status",
    "tree",
]

PROC = Path("/proc")
_PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


@dataclass(frozen=True)
class ProcessStat:
    """What ``/proc/PID/stat`` says of one process (proc(5)); CPU times in clock ticks."""

    pid: int
    name: str
    state: str
    ppid: int
    pgrp: int
    utime: int
    stime: int
    cutime: int
    cstime: int

    @property
    def zombie(self) -> bool:
        """Ended, and not yet waited for by its parent."""
        return self.state == "Z"

    def cpu_seconds(self, *, with_children: bool = False) -> float:
        """User and system CPU time used so far (and by its waited-for children, if asked)."""
        ticks = self.utime + self.stime
        if with_children:
            ticks += self.cutime + self.cstime
        return ticks / os.sysconf("SC_CLK_TCK")


def pids() -> Iterator[int]:
    """The pid of every process now (some may end before they are read)."""
    for entry in os.scandir(PROC):
        if entry.name.isdigit():
            yield int(entry.name)


def stat(pid: int) -> ProcessStat | None:
    """``/proc/PID/stat``, or None once the process has ended."""
    try:
        with open(PROC / str(pid) / "stat", encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return None
    # The name is in parentheses and may itself hold spaces and ")": the last one ends it.
    name = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()
    return ProcessStat(
        pid=pid,
        name=name,
        state=fields[0],
        ppid=int(fields[1]),
        pgrp=int(fields[2]),
        utime=int(fields[11]),
        stime=int(fields[12]),
        cutime=int(fields[13]),
        cstime=int(fields[14]),
    )


def processes() -> dict[int, ProcessStat]:
    """The process table now: pid -> its stat, for every process that could be read."""
    table: dict[int, ProcessStat] = {}
    for pid in pids():
        found = stat(pid)
        if found is not None:
            table[pid] = found
    return table


def cmdline(pid: int) -> list[bytes] | None:
    """The process's arguments (``argv``), or None once it has ended; empty for a zombie or a
    kernel thread."""
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return None
    args = raw.split(b"\0")
    if raw.endswith(b"\0"):
        args.pop()  # each argument ends with a NUL, the last one too
    return args if raw else []


def environ(pid: int) -> list[bytes] | None:
    """The process's environment as ``NAME=value`` entries, or None when it has ended or
    belongs to a user this one may not inspect."""
    try:
        raw = (PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return None
    return [entry for entry in raw.split(b"\0") if entry]


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from every thread's children list)."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(PROC / str(pid) / "task"):
            listed = PROC / str(pid) / "task" / task / "children"
            with contextlib.suppress(OSError):
                found += [int(child) for child in listed.read_text(encoding="ascii").split()]
    return found


def tree(root: int) -> list[int]:
    """``root`` and every process below it, ``root`` first."""
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children(pid))
    return found


def namespace(pid: int | str = "self", kind: str = "pid") -> str | None:
    """The namespace of a kind (``pid``, ``user``, ``net``...) a process is in, as
    ``KIND:[NUMBER]``, or None once it has ended."""
    try:
        return os.readlink(PROC / str(pid) / "ns" / kind)
    except OSError:
        return None


def status(pid: int) -> dict[str, str] | None:
    """``/proc/PID/status`` as field -> value (``Uid``, ``CapEff``...), or None once it has
    ended."""
    try:
        text = (PROC / str(pid) / "status").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    pairs = (line.split(":", 1) for line in text.splitlines() if ":" in line)
    return {name: value.strip() for name, value in pairs}


def rss_kib(pid: int) -> int:
    """Resident memory in KiB (``statm``, cheap to read), 0 once the process has ended."""
    try:
        return int((PROC / str(pid) / "statm").read_text(encoding="ascii").split()[1]) * _PAGE_KIB
    except (OSError, IndexError, ValueError):
        return 0


def rss_pss_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in KiB from ``smaps_rollup``: PSS shares each page fairly between the
    processes that map it, so a tree's PSS adds up to what it really costs; (0, 0) once the
    process has ended."""
    rss = pss = 0
    with (
        contextlib.suppress(OSError),
        open(PROC / str(pid) / "smaps_rollup", encoding="ascii") as f,
    ):
        for line in f:
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    return rss, pss


def memory_total_kib() -> int | None:
    """The machine's memory (``MemTotal`` in ``/proc/meminfo``), or None where it cannot be read."""
    try:
        with open(PROC / "meminfo", encoding="ascii") as meminfo:
            total = next(line for line in meminfo if line.startswith("MemTotal"))
        return int(total.split()[1])
    except (OSError, StopIteration, ValueError):
        return None
