"""The suite's leftover-process check (``no_leftover_processes`` in tests/conftest.py) really sees
what the run starts, detached process groups included, so a browser, driver or executor that
outlives the suite fails it."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from types import ModuleType

import pytest

ROOT_CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"


def _root_conftest(config: pytest.Config) -> ModuleType:
    """The loaded tests/conftest.py, as pytest holds it (importing it again would change the
    run's marker; every conftest is named ``conftest``, so sys.modules keeps only the last)."""
    for plugin in config.pluginmanager.get_plugins():
        if isinstance(plugin, ModuleType) and getattr(plugin, "__file__", None) == str(
            ROOT_CONFTEST
        ):
            return plugin
    raise AssertionError("tests/conftest.py was not loaded")


def test_the_leftover_check_finds_detached_children_and_forgets_ended_ones(
    pytestconfig: pytest.Config,
) -> None:
    conftest = _root_conftest(pytestconfig)
    assert os.environ["AGENT_TEST_RUN"] == conftest.RUN_MARKER.split("=", 1)[1]
    # Like Chromium and the executors: its own session and process group, inherited env.
    child = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        assert child.pid in conftest._marked_processes()
    finally:
        child.kill()
        child.wait(timeout=10)
    deadline = time.monotonic() + 5
    while child.pid in conftest._marked_processes():
        assert time.monotonic() < deadline, "an ended process is still reported"
        time.sleep(0.05)


def test_a_process_started_with_a_clean_environment_is_not_ours(
    pytestconfig: pytest.Config,
) -> None:
    """What the check cannot see: a process that drops the inherited environment. Nothing in
    the library does (Chromium, Playwright's driver and the executors all inherit it)."""
    conftest = _root_conftest(pytestconfig)
    child = subprocess.Popen(["sleep", "60"], env={"PATH": os.environ.get("PATH", "")})
    try:
        assert child.pid not in conftest._marked_processes()
    finally:
        child.kill()
        child.wait(timeout=10)
