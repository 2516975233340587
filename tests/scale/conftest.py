"""Real pieces for the scale-out tests, started by the tests themselves on loopback
(``evals/infra.py``): a Chromium with a DevTools port, a Playwright browser server,
``redis-server``, and ``agent serve`` replicas sharing it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from evals.infra import Replica, cdp_chromium, playwright_server, redis_server
from tests.harness import serve_http

SITE = Path(__file__).parent / "site"


@pytest.fixture(scope="session")
def site() -> Iterator[str]:
    """``tests/scale/site`` on an ephemeral 127.0.0.1 port."""
    with serve_http(SITE) as url:
        yield url


@pytest.fixture(scope="package")
def cdp_endpoint() -> Iterator[str]:
    with cdp_chromium() as url:
        yield url


@pytest.fixture(scope="package")
def playwright_endpoint() -> Iterator[str]:
    if shutil.which("node") is None:
        pytest.skip("node is needed for a Playwright browser server")
    with playwright_server() as url:
        yield url


@pytest.fixture(scope="package")
def redis_url() -> Iterator[str]:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed: `apt-get install redis-server` (.ci/setup)")
    with redis_server() as url:
        yield url


@pytest.fixture
def replicas(redis_url: str, tmp_path: Path) -> Iterator[Any]:
    """``replicas(endpoints, count=2)``: replicas sharing one Redis, stopped after the test."""
    started: list[Replica] = []

    def start(endpoints: list[dict[str, Any]], count: int = 2) -> list[Replica]:
        for _ in range(count):
            log = tmp_path / f"replica-{len(started)}.log"
            started.append(
                Replica(redis_url=redis_url, endpoints=endpoints, profiles=tmp_path, log=log)
            )
        return started[-count:]

    yield start
    for replica in started:
        replica.stop()
    redis.Redis.from_url(redis_url).flushdb()  # each test starts from an empty store
