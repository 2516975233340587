"""Fixtures of the observability tests: the server tests' site, served on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import serve_http

SITE = Path(__file__).resolve().parents[1] / "server" / "site"


@pytest.fixture(scope="session")
def site() -> Iterator[str]:
    """Base URL of the server tests' static site (index.html has a counter button)."""
    with serve_http(SITE) as url:
        yield url
