"""Memory and CPU time of process trees (read by ``agent.procfs``): CPU seconds by kind of
process, and a sampler that keeps the peaks per session's browser tree while a load runs."""

from __future__ import annotations

import contextlib
import threading
from collections import defaultdict
from dataclasses import dataclass, field

from agent import procfs

__all__ = ["MemoryPeaks", "MemorySampler", "cpu_by_kind"]


def cpu_by_kind(root: int) -> dict[str, float]:
    """CPU seconds used so far (user + system) by ``root`` and every process below it, summed
    by kind: the server (``root`` itself), ``chromium``, the Playwright driver (``node``) and
    ``other`` (code executors, sandboxes)."""
    used: dict[str, float] = defaultdict(float)
    for pid in procfs.tree(root):
        found = procfs.stat(pid)
        if found is None:
            continue
        if pid == root:
            kind = "server"
        elif found.name == "chromium":
            kind = "chromium"
        elif found.name.startswith("node"):  # the driver's main thread names the process
            kind = "node"
        else:
            kind = "other"
        used[kind] += found.cpu_seconds()
    return dict(used)


def _session_key(pid: int) -> str | None:
    """What names a process group's session: a Chromium's profile folder (None for any other
    group, such as a session's code sandbox, which is then counted on its own)."""
    for arg in procfs.cmdline(pid) or []:
        if arg.startswith(b"--user-data-dir="):
            return arg.split(b"=", 1)[1].decode(errors="replace")
    return None


@dataclass
class MemoryPeaks:
    per_session_rss: dict[str, int] = field(default_factory=dict)
    per_session_pss: dict[str, int] = field(default_factory=dict)
    server_rss: int = 0
    total_rss: int = 0
    total_pss: int = 0
    sessions_at_total_peak: int = 0
    samples: int = 0


class MemorySampler(threading.Thread):
    """Samples the server's process tree every ``interval`` s, keeping per-session peaks."""

    def __init__(self, server_pid: int, interval: float) -> None:
        super().__init__(daemon=True)
        self.server_pid = server_pid
        self.interval = interval
        self.peaks = MemoryPeaks()
        self._halt = threading.Event()
        self._keys: dict[int, str | None] = {}  # process group -> session key, once known

    def run(self) -> None:
        while not self._halt.wait(self.interval):
            with contextlib.suppress(Exception):  # a process vanishing mid-sample is normal
                self.sample()

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=30)

    def tree_pss_kib(self) -> tuple[int, int]:
        """(PSS of the server's whole process tree, Chromium browser processes in it) now."""
        total = browsers = 0
        for pid in procfs.tree(self.server_pid):
            total += procfs.rss_pss_kib(pid)[1]
            argv = procfs.cmdline(pid)
            if argv:
                # A boxed browser's bwrap carries Chromium's arguments too: Chromium itself only.
                chromium = b"chrom" in argv[0].rsplit(b"/", 1)[-1]
                if (
                    chromium
                    and any(a.startswith(b"--user-data-dir=") for a in argv)
                    and not any(a.startswith(b"--type=") for a in argv)
                ):
                    browsers += 1
        return total, browsers

    def sample(self) -> None:
        table = procfs.processes()
        server = table.get(self.server_pid)
        server_group = server.pgrp if server else 0
        rss_by: dict[str, int] = defaultdict(int)
        pss_by: dict[str, int] = defaultdict(int)
        server_rss = total_rss = total_pss = 0
        for pid in procfs.tree(self.server_pid):
            rss, pss = procfs.rss_pss_kib(pid)
            total_rss, total_pss = total_rss + rss, total_pss + pss
            group = table[pid].pgrp if pid in table else 0
            if group == server_group:
                server_rss += rss  # the server and its Playwright drivers
                continue
            if group not in self._keys or self._keys[group] is None:
                self._keys[group] = _session_key(group)
            key = self._keys[group] or f"group-{group}"
            rss_by[key] += rss
            pss_by[key] += pss
        peaks = self.peaks
        peaks.samples += 1
        for key, rss in rss_by.items():
            peaks.per_session_rss[key] = max(peaks.per_session_rss.get(key, 0), rss)
            peaks.per_session_pss[key] = max(peaks.per_session_pss.get(key, 0), pss_by[key])
        peaks.server_rss = max(peaks.server_rss, server_rss)
        if total_pss > peaks.total_pss:
            peaks.total_pss, peaks.sessions_at_total_peak = total_pss, len(rss_by)
        peaks.total_rss = max(peaks.total_rss, total_rss)
