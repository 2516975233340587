"""Fixtures for the eval tests: the task suite, the reference policy, and the local sites."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agent.models.providers import PROVIDER_SPECS
from evals.reference import ReferencePolicy
from evals.sites import SiteServer
from evals.tasks import Task, load_tasks


@pytest.fixture(autouse=True)
def _no_provider_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Replays must not depend on the developer's keys, base URLs or agent settings."""
    providers = [v for s in PROVIDER_SPECS for v in (s.key_env, s.sdk_base_url_env) if v]
    for name in (
        *providers, "AGENT_CONFIG", "AGENT_BASE_URL", "AGENT_MODEL", "AGENT_TEMPERATURE",
        "AGENT_MAX_SNAPSHOT_TOKENS",
    ):  # fmt: skip
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def all_tasks() -> list[Task]:
    return load_tasks()


@pytest.fixture(scope="session")
def policy(all_tasks: list[Task]) -> ReferencePolicy:
    return ReferencePolicy(all_tasks)


@pytest.fixture(scope="session")
def site_server() -> Iterator[SiteServer]:
    with SiteServer() as server:
        yield server
