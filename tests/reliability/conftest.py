"""Fixtures for the reliability and security tests: a hostile local site and profile storage.

Servers are started per module (each module needs different settings); all of them listen on
127.0.0.1 only, and every page they load is served by this process.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).parent
# The fake OpenAI/Anthropic server lives with the model tests; import it from there.
sys.path.insert(0, str(HERE.parent / "models"))

from reliability_harness import serve_site  # noqa: E402


@pytest.fixture(scope="session")
def site() -> Iterator[str]:
    """Base URL of the hostile site (no trailing slash)."""
    with serve_site() as url:
        yield url


@pytest.fixture(scope="module")
def profiles_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("profiles")
