"""Fixtures for server tests: the test site, a real server on a loopback port, a scripted model.

The server runs in a thread with its own event loop (uvicorn), exactly as ``agent serve`` runs it;
tests talk to it over HTTP, mostly through Firecrawl's own SDK.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from server_harness import ARTIFACTS, PromptScript, RunningServer, SiteHandler

from agent.server import ServerSettings, SessionFactory


@pytest.fixture(scope="session")
def site() -> Iterator[str]:
    """Base URL of the test site (no trailing slash)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), SiteHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def profiles_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("profiles")


@pytest.fixture(scope="session")
def server(profiles_dir: Path) -> Iterator[RunningServer]:
    """The shared open server (no API keys) with a scripted model."""
    running = RunningServer(
        ServerSettings(profiles_dir=profiles_dir, max_sessions=6, reap_interval=0.5),
        PromptScript(),
    )
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def script(server: RunningServer) -> Iterator[PromptScript]:
    server.script.turns.clear()
    yield server.script
    server.script.turns.clear()


@pytest.fixture
def make_server(profiles_dir: Path) -> Iterator[Callable[..., RunningServer]]:
    """Start a server with particular settings; it is stopped after the test."""
    started: list[RunningServer] = []

    def make(session_factory: SessionFactory | None = None, **settings: Any) -> RunningServer:
        settings.setdefault("profiles_dir", profiles_dir)
        settings.setdefault("warm_browsers", 0)  # most need no browser, or just one
        running = RunningServer(ServerSettings(**settings), PromptScript(), session_factory)
        started.append(running)
        return running

    yield make
    for running in started:
        running.stop()


@pytest.fixture
def firecrawl(server: RunningServer) -> Any:
    """Firecrawl's own Python SDK, pointed at the shared server."""
    from firecrawl import Firecrawl

    return Firecrawl(api_url=server.url, api_key="fc-any-key")


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
