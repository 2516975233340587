"""The suite's leftover-process check (``no_leftover_processes`` in tests/conftest.py) really sees
what the run starts, detached process groups and sandboxed processes (whose environment is
cleared) included, so a browser, driver, executor or daemon that outlives the suite fails it."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from agent import procfs
from agent.browser.session import BrowserSession
from agent.config import Settings
from agent.executors import run_code
from tests import conftest
from tests.harness import wait_until
from tests.processes import processes_with_env


def test_the_leftover_check_finds_detached_children_and_forgets_ended_ones(
    pytestconfig: pytest.Config,
) -> None:
    # tests/conftest.py as pytest loaded it (tests is a package, so it is ``tests.conftest``), not
    # a second copy: importing it afresh would have made a new marker.
    assert pytestconfig.pluginmanager.is_registered(conftest)
    assert os.environ["AGENT_TEST_RUN"] == conftest.RUN_MARKER.split("=", 1)[1]
    # Like Chromium and the executors: its own session and process group, inherited env.
    child = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        # Popen can return while the kernel is still setting up the new program, when its
        # /proc environ reads empty: give the child a moment to show its marker.
        wait_until(lambda: child.pid in conftest._marked_processes(), 5, 0.02)
    finally:
        child.kill()
        child.wait(timeout=10)
    deadline = time.monotonic() + 5
    while child.pid in conftest._marked_processes():
        assert time.monotonic() < deadline, "an ended process is still reported"
        time.sleep(0.05)


def test_a_child_with_a_clean_environment_is_ours_an_orphan_of_nobody_is_not() -> None:
    """A process the run starts with a cleared environment still counts, by descent; one that
    is neither marked nor below a process of the run (another run's, say) does not."""
    clean = {"PATH": os.environ.get("PATH", "")}
    child = subprocess.Popen(["sleep", "60"], env=clean, start_new_session=True)
    # `sh` starts a clean `sleep` and exits at once: the sleep is re-parented to init.
    started = subprocess.run(
        ["sh", "-c", "sleep 61 >/dev/null 2>&1 & echo $!"],
        env=clean,
        capture_output=True,
        text=True,
        check=True,
    )
    orphan = int(started.stdout)
    try:
        wait_until(lambda: child.pid in conftest._marked_processes(), 5, 0.02)
        assert child.pid not in processes_with_env(*conftest.RUN_MARKER.split("=", 1))
        wait_until(lambda: _parent(orphan) != os.getpid(), 5, 0.02)
        assert orphan not in conftest._marked_processes()
    finally:
        child.kill()
        child.wait(timeout=10)
        os.kill(orphan, signal.SIGKILL)


async def test_a_process_left_in_a_sandbox_is_seen_until_the_sandbox_ends() -> None:
    """The sandbox clears its processes' environment (bubblewrap's --clearenv), so nothing in it
    carries the marker; a daemon left running in it (as agent-browser's is) is still reported,
    and so would fail the suite, until the session's end takes the sandbox down."""
    session = await BrowserSession.start()
    try:
        # A session of its own, as a daemon: the end of the script (whose process group is
        # killed) leaves it running; the script waits until it is out of that group.
        daemon = f"touch /tmp/started; exec sleep {_LEFT_BEHIND}"
        ran = await run_code(
            session,
            f"setsid sh -c '{daemon}' </dev/null >/dev/null 2>&1 &\n"
            "until [ -e /tmp/started ]; do sleep 0.02; done",
            "bash",
            settings=Settings(sandbox="bwrap"),
        )
        assert ran.success, ran
        wait_until(lambda: _pid_running(["sleep", _LEFT_BEHIND]) is not None, 5, 0.05)
        left = _pid_running(["sleep", _LEFT_BEHIND])
        assert left is not None
        assert left not in processes_with_env(*conftest.RUN_MARKER.split("=", 1))
        assert left in conftest._marked_processes()
    finally:
        await session.close()
    wait_until(lambda: left not in conftest._marked_processes(), 10, 0.05)


_LEFT_BEHIND = "613.25"


def _pid_running(argv: list[str]) -> int | None:
    """The pid of the live process whose command line is exactly ``argv``, if any."""
    wanted = [arg.encode() for arg in argv]
    return next((pid for pid in procfs.pids() if procfs.cmdline(pid) == wanted), None)


def _parent(pid: int) -> int:
    stat = procfs.stat(pid)
    assert stat is not None, f"process {pid} has ended"
    return stat.ppid
