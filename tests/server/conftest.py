"""Fixtures for server tests: the test site, a real server on a loopback port, a scripted model.

The server runs in a thread with its own event loop (uvicorn), exactly as ``agent serve`` runs it;
tests talk to it over HTTP, mostly through Firecrawl's own SDK.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.config import Settings
from agent.server import ServerSettings, SessionFactory
from tests.harness import PageHandler, RunningServer, Turns, serve_http

SITE = Path(__file__).parent / "site"


class SiteHandler(PageHandler):
    """Static files from ``site/`` plus a few special paths: /status/N, /slow."""

    def do_GET(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        if path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            self.send_page(code, f"<html><head><title>Status {code}</title></head><body>"
                           f"<main><h1>Error page {code}</h1></main></body></html>")  # fmt: skip
            return
        if path == "/slow":
            time.sleep(4)
            self.send_page(200, "<html><body>finally</body></html>")
            return
        file = (SITE / path.lstrip("/")).resolve()
        if path == "/":
            file = SITE / "index.html"
        if file.is_file() and SITE in file.parents:
            kind = "text/html" if file.suffix == ".html" else "application/octet-stream"
            self.send_page(200, file.read_bytes(), kind)
        else:
            self.send_page(
                404, "<html><head><title>Not found</title></head><body>nope</body></html>"
            )


def _agent_settings() -> Settings:
    return Settings(action_timeout=3, navigation_timeout=15, max_steps=6)


@pytest.fixture(scope="session")
def site() -> Iterator[str]:
    """Base URL of the test site (no trailing slash)."""
    with serve_http(SiteHandler) as url:
        yield url


@pytest.fixture(scope="session")
def profiles_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("profiles")


@pytest.fixture(scope="session")
def server(profiles_dir: Path) -> Iterator[RunningServer]:
    """The shared open server (no API keys) with a scripted model, starting browsers exactly as
    ``agent serve`` does."""
    with RunningServer(
        ServerSettings(profiles_dir=profiles_dir, max_sessions=6, reap_interval=0.5),
        agent_settings=_agent_settings(),
        count_launches=False,
    ) as running:
        yield running


@pytest.fixture
def script(server: RunningServer) -> Iterator[Turns]:
    server.turns.clear()
    yield server.turns
    server.turns.clear()


@pytest.fixture
def make_server(profiles_dir: Path) -> Iterator[Callable[..., RunningServer]]:
    """Start a server with particular settings; it is stopped after the test."""
    started: list[RunningServer] = []

    def make(
        session_factory: SessionFactory | None = None,
        agent_settings: Settings | None = None,
        **settings: Any,
    ) -> RunningServer:
        settings.setdefault("profiles_dir", profiles_dir)
        settings.setdefault("warm_browsers", 0)  # most need no browser, or just one
        running = RunningServer(
            ServerSettings(**settings),
            agent_settings=agent_settings or _agent_settings(),
            session_factory=session_factory,
            count_launches=False,
        )
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


@pytest.fixture
def scraped(firecrawl: Any, site: str) -> Iterator[str]:
    """A session scraped from the site's index page with firecrawl-py; stopped after the test
    unless the test stopped it."""
    doc = firecrawl.scrape(f"{site}/index.html", formats=["markdown"])
    yield doc.metadata.scrape_id
    try:
        firecrawl.stop_interaction(doc.metadata.scrape_id)
    except Exception:
        pass  # the test stopped it already
