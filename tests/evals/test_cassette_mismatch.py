"""A changed prompt makes replay fail loudly, saying how to re-record."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import prompts
from agent.models.providers import recordable_providers
from evals.backends import EvalBackend, reference_model_id
from evals.cassettes import CASSETTES_DIR
from evals.errors import CassetteMismatchError
from evals.runner import run_task
from evals.sites import SiteServer
from evals.tasks import Task


@pytest.fixture
def changed_system_prompt(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    original = prompts._load

    def load(name: str) -> str | None:
        text = original(name)
        if name == "system.j2" and text is not None:
            return text.replace("You are a browser agent", "You are a careful browser agent")
        return text

    monkeypatch.setattr(prompts, "_load", load)
    prompts._environment.cache_clear()
    yield
    monkeypatch.undo()
    prompts._environment.cache_clear()


@pytest.mark.usefixtures("changed_system_prompt")
@pytest.mark.parametrize("provider", [spec.prefix for spec in recordable_providers()])
async def test_a_changed_prompt_template_fails_replay_with_the_rerecord_command(
    provider: str, all_tasks: list[Task], site_server: SiteServer
) -> None:
    task = next(t for t in all_tasks if t.id == "login-basic")
    backend = EvalBackend(reference_model_id(provider), "replay", CASSETTES_DIR)
    with pytest.raises(CassetteMismatchError) as caught:
        await run_task(task, backend, site_server)
    message = str(caught.value)
    assert (
        f"Re-record with: agent eval --record --provider {provider} --tasks login-basic" in message
    )
    assert "careful browser agent" in message  # the first difference is shown
    assert "login-basic.yaml" in message


async def test_a_missing_cassette_says_how_to_record_it(
    all_tasks: list[Task], site_server: SiteServer, tmp_path: Path
) -> None:
    task = next(t for t in all_tasks if t.id == "login-basic")
    backend = EvalBackend("openai:gpt-4.1-mini", "replay", tmp_path)
    with pytest.raises(
        CassetteMismatchError, match=r"agent eval --record --model openai:gpt-4.1-mini"
    ):
        await run_task(task, backend, site_server)
