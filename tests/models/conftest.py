"""Fixtures for the model backend tests: the fake provider server and cassettes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agent.models.providers import PROVIDER_SPECS
from evals.provider_server import FakeProviderServer
from tests.models.record_cassettes import CassetteFactory, cassette_factory


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the developer's settings from leaking into tests (keys are re-read where needed)."""
    sdk_urls = [spec.sdk_base_url_env for spec in PROVIDER_SPECS if spec.sdk_base_url_env]
    for name in (*sdk_urls, "AGENT_CONFIG", "AGENT_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake_server() -> Iterator[FakeProviderServer]:
    """A fresh fake OpenAI/Anthropic server on 127.0.0.1."""
    with FakeProviderServer() as server:
        yield server


@pytest.fixture
def cassette() -> Iterator[CassetteFactory]:
    """Open a named cassette for replay or recording, per ``AGENT_RECORD``.

    Call as ``with cassette("openai_tool_call", "openai") as run: ...``; pass ``live=False``
    for cassettes the real API cannot produce (forced errors), which skip in live mode.
    """
    with cassette_factory() as open_cassette:
        yield open_cassette
