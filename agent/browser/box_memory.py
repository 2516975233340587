"""The memory bound of one browser box (``AGENT_BROWSER_MEMORY_MB``), all its processes together.

Where the machine lets this server make one, each box gets a memory cgroup of its own, a child
of the server's own cgroup: cgroup v2 when the server's cgroup can hand the memory controller to
its children, else the v1 memory hierarchy. Past the limit the kernel's OOM killer ends the
box's largest process, usually a renderer and not the browser, and (v2) with ``memory.oom.group``
the whole box. The box's first process joins its cgroup before it starts anything, so no process
of the box escapes it.

Elsewhere (no cgroup the server may write: an unprivileged server without a delegated cgroup) a
watchdog adds up the memory of the box's processes every second (RSS first, PSS when RSS says it
may be over: shared pages counted once).

Either way ``exceeded()`` tells, and the box ends the whole session: a browser that lost a
renderer to the OOM killer must not go on as if nothing happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from agent import procfs

__all__ = ["MemoryGuard", "memory_guard"]

log = logging.getLogger(__name__)

_CGROUP_INTERVAL_S = 0.5
_WATCHDOG_INTERVAL_S = 1.0
_places: dict[str, Path | None] = {}  # "v2"/"v1" -> where box cgroups go (None: not possible)


class MemoryGuard:
    """Bounds and watches one box's memory; this base is the watchdog."""

    kind = "watchdog"
    interval_s = _WATCHDOG_INTERVAL_S

    def __init__(self, limit_mb: int) -> None:
        self.limit_mb = limit_mb
        self.root_pid: int | None = None

    @property
    def join_file(self) -> str | None:
        """The ``cgroup.procs`` file the box's first process writes its pid into, if any."""
        return None

    def attach(self, root_pid: int) -> None:
        """The box's outermost process (bwrap): every process of the box descends from it."""
        self.root_pid = root_pid

    def exceeded(self) -> bool:
        """Whether the box has gone past its limit (the kernel killed one of its processes for
        it, or the watchdog found it over)."""
        if self.root_pid is None:
            return False
        limit_kib = self.limit_mb * 1024
        pids = procfs.tree(self.root_pid)
        if sum(procfs.rss_kib(pid) for pid in pids) <= limit_kib:
            return False
        return sum(procfs.rss_pss_kib(pid)[1] for pid in pids) > limit_kib

    async def watch(self, on_exceeded: Callable[[], Awaitable[None]]) -> None:
        """Check every ``interval_s`` until the limit is passed, then call ``on_exceeded``."""
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                # The watchdog reads many /proc files: off the event loop. A cgroup, one file.
                if self.kind == "watchdog":
                    over = await asyncio.to_thread(self.exceeded)
                else:
                    over = self.exceeded()
            except OSError:
                continue
            if over:
                await on_exceeded()
                return

    def close(self) -> None:
        """Remove what the guard made (after every process of the box has ended)."""


class _CgroupGuard(MemoryGuard):
    interval_s = _CGROUP_INTERVAL_S
    _events = ""
    _counters: tuple[str, ...] = ()

    def __init__(self, limit_mb: int, path: Path) -> None:
        super().__init__(limit_mb)
        self.path = path

    @property
    def join_file(self) -> str:
        return str(self.path / "cgroup.procs")

    def exceeded(self) -> bool:
        try:
            text = (self.path / self._events).read_text()
        except OSError:
            return False
        counts = dict(line.split(None, 1) for line in text.splitlines() if " " in line)
        return any(int(counts.get(name, "0")) > 0 for name in self._counters)

    def close(self) -> None:
        deadline = time.monotonic() + 5
        while True:
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError as exc:  # EBUSY until the kernel has let go of the last process
                if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                    log.warning("could not remove the box's cgroup %s: %s", self.path, exc)
                    return
                time.sleep(0.05)


class _CgroupV2(_CgroupGuard):
    kind = "cgroup2"
    _events = "memory.events"
    _counters = ("oom_kill", "oom_group_kill")

    def setup(self) -> None:
        limit = self.limit_mb * 1024 * 1024
        (self.path / "memory.max").write_text(str(limit))
        with contextlib.suppress(OSError):
            (self.path / "memory.swap.max").write_text("0")
        with contextlib.suppress(OSError):  # one OOM kill ends the whole box, not one renderer
            (self.path / "memory.oom.group").write_text("1")


class _CgroupV1(_CgroupGuard):
    kind = "cgroup1"
    _events = "memory.oom_control"
    _counters = ("oom_kill", "under_oom")

    def setup(self) -> None:
        limit = str(self.limit_mb * 1024 * 1024)
        (self.path / "memory.limit_in_bytes").write_text(limit)
        with contextlib.suppress(OSError):  # swap counted too, where the kernel accounts it
            (self.path / "memory.memsw.limit_in_bytes").write_text(limit)


def memory_guard(limit_mb: int) -> MemoryGuard:
    """A cgroup of its own for a new box when the machine allows one, else the watchdog."""
    for kind, guard_type in (("v2", _CgroupV2), ("v1", _CgroupV1)):
        place = _place(kind)
        if place is None:
            continue
        guard = guard_type(limit_mb, place / f"box-{os.getpid()}-{uuid.uuid4().hex[:12]}")
        try:
            guard.path.mkdir()
            guard.setup()
        except OSError as exc:
            log.warning("could not make a memory cgroup for a browser box: %s", exc)
            guard.close()
            continue
        return guard
    return MemoryGuard(limit_mb)


def _place(kind: str) -> Path | None:
    """Where this process may make box cgroups of ``kind``, found (and tried) once."""
    if kind not in _places:
        try:
            _places[kind] = _find_place(kind)
        except OSError:
            _places[kind] = None
        place = _places[kind]
        if place is not None:
            log.info("browser boxes get memory cgroups (%s) under %s", kind, place)
            _remove_orphans(place)
    return _places[kind]


def _remove_orphans(place: Path) -> None:
    """Remove the box cgroups a server that is gone left behind (killed before it could): each
    is named after its server's pid, and an empty one of a pid no longer running is an orphan."""
    for child in place.glob("box-*-*"):
        pid = child.name.split("-")[1]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            with contextlib.suppress(OSError):  # not empty, or removed meanwhile: left alone
                child.rmdir()


def _find_place(kind: str) -> Path | None:
    mounts = _cgroup_mounts()
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        number, controllers, path = line.split(":", 2)
        if kind == "v2" and number == "0" and "cgroup2" in mounts:
            own = Path(mounts["cgroup2"] + path)
            if "memory" not in (own / "cgroup.controllers").read_text().split():
                return None
            if "memory" not in (own / "cgroup.subtree_control").read_text().split():
                # Refused when processes live in this cgroup itself (cgroup v2's rule).
                (own / "cgroup.subtree_control").write_text("+memory")
            return _tried(own)
        if kind == "v1" and "memory" in controllers.split(",") and "memory" in mounts:
            return _tried(Path(mounts["memory"] + path))
    return None


def _tried(own: Path) -> Path | None:
    """``own`` when a child cgroup can be made and removed there."""
    probe = own / f"agent-probe-{os.getpid()}"
    try:
        probe.mkdir()
    except FileExistsError:
        pass
    except OSError:
        return None
    probe.rmdir()
    return own


def _cgroup_mounts() -> dict[str, str]:
    """Mount points: ``cgroup2`` for the unified hierarchy, ``memory`` for v1's."""
    found: dict[str, str] = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        before, _, after = line.partition(" - ")
        fields, tail = before.split(), after.split()
        if not tail:
            continue
        if tail[0] == "cgroup2":
            found.setdefault("cgroup2", fields[4])
        elif tail[0] == "cgroup" and "memory" in tail[-1].split(","):
            found.setdefault("memory", fields[4])
    return found
