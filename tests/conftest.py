"""Fixtures shared by every test: local pages over HTTP, a real browser session, and a check that
no browser or executor process outlives the suite."""

from __future__ import annotations

import functools
import http.server
import os
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from agent.session import BrowserSession

PAGES = Path(__file__).parent / "pages"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def serve_directory(directory: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Serve a folder on an ephemeral loopback port; return the server and its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture(scope="session")
def pages_url() -> Iterator[str]:
    server, url = serve_directory(PAGES)
    yield url
    server.shutdown()


@pytest.fixture(scope="module")
async def session() -> AsyncIterator[BrowserSession]:
    browser_session = await BrowserSession.start(action_timeout_s=2.0)
    yield browser_session
    await browser_session.close()


def _descendant_processes() -> dict[int, str]:
    """Processes started (directly or not) by this test run, by pid -> command name."""
    me = os.getpid()
    parents: dict[int, int] = {}
    names: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] == "Z":
            continue
        parents[int(entry.name)] = int(fields[1])
        names[int(entry.name)] = name
    found: dict[int, str] = {}
    for pid in names:
        seen = pid
        for _ in range(64):
            seen = parents.get(seen, 0)
            if seen == me:
                found[pid] = names[pid]
                break
            if seen <= 1:
                break
    return found


def _browser_like(processes: dict[int, str]) -> dict[int, str]:
    return {
        pid: name
        for pid, name in processes.items()
        if any(word in name for word in ("chrom", "node", "python", "bash"))
    }


@pytest.fixture(scope="session", autouse=True)
def no_leftover_processes() -> Iterator[None]:
    """After the whole suite, no Chromium, node, python or bash process we started may remain.

    Chromium is started in its own session (so it can be killed as a group) and is then not our
    descendant by parentage alone; its user-data folder marks it instead.
    """
    before = set(_browser_like(_descendant_processes())) | set(_orphan_chromium())
    yield
    deadline = time.monotonic() + 10
    while True:
        left = {p: n for p, n in _browser_like(_descendant_processes()).items() if p not in before}
        left.update({p: n for p, n in _orphan_chromium().items() if p not in before})
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert not left, f"processes left behind by the test suite: {left}"


def _orphan_chromium() -> dict[int, str]:
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if "agent-chromium-" in cmdline and "--user-data-dir" in cmdline:
            found[int(entry.name)] = cmdline.split("\0", 1)[0]
    return found
