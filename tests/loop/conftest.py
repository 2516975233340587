"""Fixtures for planner tests: the demo site over HTTP and settings (the browser session is
``tests/conftest.py``'s)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.config import Settings
from tests.harness import serve_http

DEMO_SITE = Path(__file__).resolve().parents[2] / "evals" / "sites" / "demo"


@pytest.fixture(scope="session")
def site() -> Iterator[str]:
    """The demo site (``evals/sites/demo``) on an ephemeral 127.0.0.1 port."""
    with serve_http(DEMO_SITE) as url:
        yield url


@pytest.fixture
def settings() -> Settings:
    return Settings(max_steps=8, max_snapshot_tokens=2000)
