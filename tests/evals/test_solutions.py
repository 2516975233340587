"""Reference solutions run through the real tools (a subset here; replay covers every task)."""

from __future__ import annotations

from evals.backends import EvalBackend
from evals.cassettes import CASSETTES_DIR
from evals.reference import ReferencePolicy
from evals.runner import run_suite
from evals.tasks import Task

SUBSET = {
    "login-basic", "iframe-form", "shadow-dom", "infinite-scroll", "checkout-flow", "new-tab",
    "same-name-buttons", "late-content",
}  # fmt: skip


async def test_reference_solutions_pass(all_tasks: list[Task], policy: ReferencePolicy) -> None:
    tasks = [task for task in all_tasks if task.id in SUBSET]
    backend = EvalBackend("scripted:reference-policy", "solutions", CASSETTES_DIR, policy=policy)
    run = await run_suite(tasks, [backend], jobs=2, reuse_browsers=True)
    failed = [
        f"{r.task_id}: {r.check}; {r.error or r.answer}" for r in run.results if not r.success
    ]
    assert not failed, "\n".join(failed)
    assert run.configs[0].label.startswith("Solvability check")
    # A scripted model reports no usage: tiktoken counts the tokens instead, and says so.
    assert all(r.tokens_estimated and r.input_tokens > 0 for r in run.results)
