"""The suite's leftover-process check (``no_leftover_processes`` in tests/conftest.py) really sees
what the run starts, detached process groups included, so a browser, driver or executor that
outlives the suite fails it."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from tests import conftest
from tests.harness import wait_until


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


def test_a_process_started_with_a_clean_environment_is_not_ours() -> None:
    """What the check cannot see: a process that drops the inherited environment. Nothing in
    the library does (Chromium, Playwright's driver and the executors all inherit it)."""
    child = subprocess.Popen(["sleep", "60"], env={"PATH": os.environ.get("PATH", "")})
    try:
        assert child.pid not in conftest._marked_processes()
    finally:
        child.kill()
        child.wait(timeout=10)
