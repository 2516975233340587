"""``agent.procfs`` against real processes: this one, a child it starts, and one that has ended."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent import procfs
from tests.harness import wait_until
from tests.processes import ended_pid


@pytest.fixture
def child() -> Iterator[subprocess.Popen[bytes]]:
    """A sleeping child with an argument and an environment variable of its own."""
    process = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", "marker-arg"],
        env={**os.environ, "PROCFS_TEST": "yes"},
    )
    # Until it has exec'd, the child shows its parent's command line and environment.
    wait_until(lambda: (procfs.cmdline(process.pid) or [b""])[-1] == b"marker-arg", 10, 0.02)
    yield process
    process.kill()
    process.wait()


def test_this_process_as_proc_shows_it() -> None:
    own = procfs.stat(os.getpid())
    assert own is not None and not own.zombie
    assert (own.ppid, own.pgrp) == (os.getppid(), os.getpgrp())
    assert own.cpu_seconds() >= 0
    assert os.getpid() in procfs.processes() and os.getpid() in set(procfs.pids())
    status = procfs.status(os.getpid())
    assert status is not None and status["Uid"].split()[0] == str(os.getuid())
    assert procfs.namespace() == os.readlink("/proc/self/ns/pid")
    assert procfs.namespace(os.getpid(), "user") == os.readlink("/proc/self/ns/user")


def test_a_child_is_found_below_its_parent_with_its_arguments_and_environment(
    child: subprocess.Popen[bytes],
) -> None:
    assert child.pid in procfs.children(os.getpid())
    assert procfs.tree(os.getpid())[0] == os.getpid() and child.pid in procfs.tree(os.getpid())
    argv = procfs.cmdline(child.pid)
    assert argv is not None and argv[-1] == b"marker-arg" and argv[1] == b"-c"
    assert b"PROCFS_TEST=yes" in (procfs.environ(child.pid) or [])
    rss, pss = procfs.rss_pss_kib(child.pid)
    assert rss > 0 and 0 < pss <= rss
    assert procfs.rss_kib(child.pid) > 0


def test_an_ended_process_reads_as_absent() -> None:
    pid = ended_pid()
    assert procfs.stat(pid) is None and procfs.status(pid) is None
    assert procfs.cmdline(pid) is None and procfs.environ(pid) is None
    assert procfs.children(pid) == [] and procfs.tree(pid) == [pid]
    assert procfs.namespace(pid) is None
    assert procfs.rss_kib(pid) == 0 and procfs.rss_pss_kib(pid) == (0, 0)


def test_the_machines_memory() -> None:
    total = procfs.memory_total_kib()
    first_line = Path("/proc/meminfo").read_text(encoding="ascii").split("\n", 1)[0].split()
    assert first_line[0] == "MemTotal:" and total == int(first_line[1])
