"""Fixtures of the prompt-cache tests: the checkout site, and a real server with the scripted
model, its prompt cache in a SQLite file of its own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agent.server import ServerSettings
from tests.harness import RunningServer, quick_agent_settings, serve_http
from tests.recipes.site import SiteHandler


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with serve_http(SiteHandler) as url:
        yield url


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    data = tmp_path_factory.mktemp("data")
    with RunningServer(
        ServerSettings(profiles_dir=data / "profiles", max_sessions=4, warm_browsers=0),
        agent_settings=quick_agent_settings(data_dir=data, max_steps=6),
        count_launches=False,
    ) as running:
        yield running


@pytest.fixture
def empty_cache(server: RunningServer) -> Iterator[None]:
    """Each test starts with an empty cache and no scripted turns."""
    server.turns.clear()
    server.run(server.app.state.server.recipes.clear())
    yield
    server.turns.clear()
