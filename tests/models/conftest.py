"""Fixtures for the model backend tests: the fake provider server and cassettes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager

import pytest

from evals.provider_server import FakeProviderServer
from tests.models.record_cassettes import (
    CASSETTE_DIR,
    KEY_ENV,
    RERECORD,
    CassetteFactory,
    CassetteRun,
    record_mode,
    use_cassette,
)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the developer's settings from leaking into tests (keys are re-read where needed)."""
    for name in ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "AGENT_CONFIG", "AGENT_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake_server() -> Iterator[FakeProviderServer]:
    """A fresh fake OpenAI/Anthropic server on 127.0.0.1."""
    with FakeProviderServer() as server:
        yield server


@pytest.fixture
def cassette(request: pytest.FixtureRequest) -> Iterator[CassetteFactory]:
    """Open a named cassette for replay or recording, per ``AGENT_RECORD``.

    Call as ``with cassette("openai_tool_call", "openai") as run: ...``; pass ``live=False``
    for cassettes the real API cannot produce (forced errors), which skip in live mode.
    """
    mode = record_mode()
    servers: list[FakeProviderServer] = []

    def open_cassette(
        name: str, provider: str, *, live: bool = True
    ) -> AbstractContextManager[CassetteRun]:
        if mode == "live":
            if not live:
                pytest.skip(f"{name}: the real API cannot be made to produce this; fake only")
            if not os.environ.get(KEY_ENV[provider]):
                pytest.skip(f"AGENT_RECORD=live needs {KEY_ENV[provider]} set to a real key")
        if mode == "replay" and not (CASSETTE_DIR / f"{name}.yaml").exists():
            pytest.fail(f"cassette {name}.yaml is missing: record it with `{RERECORD}`")
        fake = None
        if mode == "fake":
            fake = FakeProviderServer().start()
            servers.append(fake)
        return use_cassette(name, provider, mode=mode, fake=fake)

    yield open_cassette
    for server in servers:
        server.close()
