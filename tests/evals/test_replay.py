"""The shipped reference cassettes replay the whole suite, in every recordable provider's wire
format (OpenAI's and Anthropic's), at 100%."""

from __future__ import annotations

import pytest

from agent.models.providers import recordable_providers
from evals.backends import EvalBackend, reference_model_id
from evals.cassettes import CASSETTES_DIR
from evals.results import EvalRun
from evals.runner import run_suite
from evals.tasks import Task


@pytest.fixture(scope="module")
async def replay_run(all_tasks: list[Task]) -> EvalRun:
    backends = [
        EvalBackend(reference_model_id(spec.prefix), "replay", CASSETTES_DIR)
        for spec in recordable_providers()
    ]
    return await run_suite(all_tasks, backends, jobs=2, reuse_browsers=True)


async def test_every_task_replays_in_both_wire_formats(
    replay_run: EvalRun, all_tasks: list[Task]
) -> None:
    failed = [
        f"{r.config} {r.task_id}: {r.check}; {r.error or r.answer}"
        for r in replay_run.results
        if not r.success
    ]
    assert not failed, "\n".join(failed)
    assert len(replay_run.results) == len(recordable_providers()) * len(all_tasks)


async def test_replay_is_labelled_a_plumbing_check_with_provenance(replay_run: EvalRun) -> None:
    for config in replay_run.configs:
        assert config.label.startswith("Plumbing check, not a model score")
        assert config.provenance, f"{config.name} shows no cassette provenance"
        assert all("reference policy" in p for p in config.provenance)


async def test_metrics_are_recorded_per_task_and_step(replay_run: EvalRun) -> None:
    for result in replay_run.results:
        assert result.steps and result.stop_reason == "done"
        assert result.input_tokens > 0 and result.output_tokens > 0
        assert not result.tokens_estimated  # usage comes from the recorded responses
        assert all(step.snapshot_tokens > 0 for step in result.steps)
        assert result.wall_s > 0
    summary = replay_run.summaries()[0]
    assert summary.success_rate == 1.0 and summary.mean_steps >= 1
