"""Running eval tasks: one browser per task, the planner loop, the check, and the metrics.

``run_suite`` runs every task under every configuration (``EvalBackend``), up to ``jobs`` at a
time, each task in its own Chromium, and returns an ``EvalRun``. ``run_task`` runs one.

What the model sees is kept identical across runs and machines, so recorded cassettes replay:
pages are opened at the fixed origin of ``evals.sites``, the snapshot budget is fixed
(``EVAL_SNAPSHOT_TOKENS``), and the reference configurations pin the temperature.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from agent.browser.session import BrowserSession
from agent.config import Settings, load_settings
from agent.errors import AgentError
from agent.loop import run_prompt
from agent.results import InteractionResult, Step
from evals.backends import EvalBackend, OpenedModel, is_reference
from evals.browsers import BrowserPool, SessionSource, fresh_browser
from evals.cassettes import model_slug
from evals.checks import run_check
from evals.errors import CassetteMismatchError
from evals.metering import MeteredModel
from evals.results import CallRecord, EvalConfigInfo, EvalRun, StepRecord, TaskResult
from evals.sites import SiteServer, route_sites, site_url
from evals.tasks import Task

__all__ = [
    "EVAL_SNAPSHOT_TOKENS",
    "ResultCallback",
    "config_info",
    "config_name",
    "eval_settings",
    "run_suite",
    "run_task",
]

EVAL_SNAPSHOT_TOKENS = 6000
"""The snapshot budget of every eval run, whatever AGENT_MAX_SNAPSHOT_TOKENS says."""
_RESULT_CHARS = 4000

ResultCallback = Callable[[TaskResult], "Awaitable[None] | None"]


def config_name(backend: EvalBackend) -> str:
    return f"{backend.model_id} ({backend.mode})"


def config_info(backend: EvalBackend, provenance: Sequence[str] = ()) -> EvalConfigInfo:
    """The configuration's name and an honest label of what its numbers mean."""
    model, mode = backend.model_id, backend.mode
    if mode == "solutions":
        label = (
            "Solvability check: each task's reference solution run in process through the real "
            "tools; no model is involved."
        )
    elif is_reference(model):
        provider = model.partition(":")[0]
        how = "replayed from its recorded cassettes" if mode == "replay" else "recorded"
        label = (
            f"Plumbing check, not a model score: the scripted reference policy, {how} through "
            f"the {provider} SDK and wire format."
        )
    elif mode == "replay":
        label = f"Model score of {model}, replayed from cassettes recorded from the live API."
    else:
        label = f"Model score of {model}, live" + (" (recorded)." if mode == "record" else ".")
    return EvalConfigInfo(
        name=config_name(backend), model=model, mode=mode, label=label, provenance=list(provenance)
    )


def eval_settings(task: Task, backend: EvalBackend) -> Settings:
    """Settings for one task: its step limit and the fixed snapshot budget."""
    overrides: dict[str, Any] = {
        "max_steps": task.max_steps,
        "max_snapshot_tokens": EVAL_SNAPSHOT_TOKENS,
        "model_retries": 0 if backend.mode == "replay" else 3,
    }
    if backend.mode == "solutions" or is_reference(backend.model_id):
        overrides["temperature"] = 0.0  # part of every recorded request body
    return load_settings(**overrides)


async def run_task(
    task: Task,
    backend: EvalBackend,
    server: SiteServer,
    *,
    report_dir: Path | None = None,
    browsers: SessionSource | None = None,
) -> TaskResult:
    """Run one task in a browser of its own and check it.

    Raises:
        CassetteMismatchError: replay met a request its cassette does not hold.
    """
    started = time.perf_counter()
    shots = _ShotTaker(report_dir, backend, task)
    source = browsers or fresh_browser()
    opened: OpenedModel = backend.open(task)
    try:
        async with source.session() as session:
            return await _run_in(task, backend, server, session, opened, shots, started)
    finally:
        await opened.aclose()


async def _run_in(
    task: Task,
    backend: EvalBackend,
    server: SiteServer,
    session: BrowserSession,
    opened: OpenedModel,
    shots: _ShotTaker,
    started: float,
) -> TaskResult:
    await route_sites(session.context, server)
    await session.goto(site_url(task.start))
    metered = MeteredModel(opened.model)
    steps: list[StepRecord] = []

    async def on_step(step: Step) -> None:
        steps.append(_step_record(step, await shots.take(session, f"step-{step.number}")))

    outcome = await run_prompt(
        session,
        task.prompt,
        model=metered,
        settings=eval_settings(task, backend),
        on_step=on_step,
        timeout_s=task.timeout_s,
    )
    transport = opened.transport
    if transport is not None:
        problem = transport.mismatch or transport.unplayed()
        if problem is not None:
            raise problem
    answer = outcome.output if outcome.success else None
    check = await run_check(task.check, session.page, answer)
    final = await shots.take(session, "final")
    return _task_result(
        task, backend, outcome, steps, check.passed, check.detail, metered, final,
        wall_s=time.perf_counter() - started, opened=opened,
    )  # fmt: skip


def _task_result(
    task: Task,
    backend: EvalBackend,
    outcome: InteractionResult,
    steps: list[StepRecord],
    passed: bool,
    detail: str,
    metered: MeteredModel,
    final: str | None,
    *,
    wall_s: float,
    opened: OpenedModel,
) -> TaskResult:
    provenance = None
    if backend.mode == "record":
        provenance = backend.provenance()
    elif opened.transport is not None:
        provenance = opened.transport.provenance
    return TaskResult(
        **_task_fields(task, backend),
        success=passed,
        check=detail,
        answer=outcome.output if outcome.success else None,
        stop_reason=outcome.stop_reason,
        steps=steps,
        input_tokens=outcome.usage.input,
        output_tokens=outcome.usage.output,
        tokens_estimated=metered.estimated,
        wall_s=wall_s,
        error=outcome.error,
        final_screenshot=final,
        provenance=provenance.describe() if provenance else None,
    )


def _step_record(step: Step, screenshot: str | None) -> StepRecord:
    results = {result.call_id: result for result in step.results}
    calls = []
    for call in step.tool_calls:
        result = results.get(call.id)
        content = result.content if result else "(not run)"
        if len(content) > _RESULT_CHARS:
            content = content[:_RESULT_CHARS] + f"… [{len(content) - _RESULT_CHARS} more chars]"
        calls.append(
            CallRecord(
                name=call.name,
                arguments=call.arguments,
                result=content,
                is_error=bool(result and result.is_error),
            )
        )
    return StepRecord(
        number=step.number,
        url=step.url,
        title=step.title,
        text=step.text,
        calls=calls,
        snapshot_tokens=step.snapshot_tokens,
        input_tokens=step.usage.input,
        output_tokens=step.usage.output,
        model_latency_s=step.model_latency_s,
        duration_s=step.duration_s,
        screenshot=screenshot,
    )


class _ShotTaker:
    """Saves JPEG screenshots under ``<report>/shots/<config>/<task>/`` when there is a report."""

    def __init__(self, report_dir: Path | None, backend: EvalBackend, task: Task) -> None:
        self.report_dir = report_dir
        self.relative = Path("shots") / model_slug(config_name(backend)) / task.id

    async def take(self, session: BrowserSession, name: str) -> str | None:
        if self.report_dir is None:
            return None
        relative = self.relative / f"{name}.jpg"
        target = self.report_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            await session.page.screenshot(path=str(target), type="jpeg", quality=60)
        except Exception:  # a screenshot is a nicety; never fail a task over one
            return None
        return relative.as_posix()


def _task_fields(task: Task, backend: EvalBackend) -> dict[str, Any]:
    """What a task's result says of the task and the backend, whether it ran or failed."""
    return {
        "task_id": task.id,
        "config": config_name(backend),
        "prompt": task.prompt,
        "start_url": site_url(task.start),
        "tags": task.tags,
    }


def _failed(task: Task, backend: EvalBackend, error: BaseException, wall_s: float) -> TaskResult:
    reason = "cassette_mismatch" if isinstance(error, CassetteMismatchError) else "error"
    return TaskResult(
        **_task_fields(task, backend),
        success=False,
        check="not checked: the run failed",
        stop_reason=reason,
        wall_s=wall_s,
        error=f"{type(error).__name__}: {error}",
    )


async def run_suite(
    tasks: Sequence[Task],
    backends: Sequence[EvalBackend],
    *,
    jobs: int = 1,
    report_dir: Path | None = None,
    on_result: ResultCallback | None = None,
    reuse_browsers: bool = False,
) -> EvalRun:
    """Run every task under every backend, ``jobs`` at a time.

    Each task gets a browser of its own: a new Chromium, or with ``reuse_browsers`` a new context
    in one of ``jobs`` warm browsers (as isolated, and a second faster per task).
    """
    limit = asyncio.Semaphore(max(1, jobs))
    results: dict[tuple[int, int], TaskResult] = {}

    async def one(b_index: int, backend: EvalBackend, t_index: int, task: Task) -> None:
        async with limit:
            started = time.perf_counter()
            try:
                # A tab a page opens in an extra context of a shared browser is not always
                # reported as this session's page (seen flaky); such tasks get a browser of
                # their own.
                source = None if "new-tab" in task.tags else browsers
                result = await run_task(
                    task, backend, server, report_dir=report_dir, browsers=source
                )
            except (AgentError, OSError, RuntimeError, ValueError) as exc:
                result = _failed(task, backend, exc, time.perf_counter() - started)
            except Exception as exc:  # Playwright errors and bugs: one task, not the run
                result = _failed(task, backend, exc, time.perf_counter() - started)
            results[(b_index, t_index)] = result.model_copy(
                update={"started_s": started - run_started}
            )
            if on_result is not None:
                called = on_result(result)
                if asyncio.iscoroutine(called):
                    await called

    browsers: BrowserPool | None = BrowserPool(jobs) if reuse_browsers else None
    run_started = time.perf_counter()
    try:
        with SiteServer() as server:
            await asyncio.gather(
                *(
                    one(b_index, backend, t_index, task)
                    for b_index, backend in enumerate(backends)
                    for t_index, task in enumerate(tasks)
                )
            )
    finally:
        if browsers is not None:
            await browsers.close()
    ordered = [results[key] for key in sorted(results)]
    configs = []
    for backend in backends:
        name = config_name(backend)
        provenance = sorted({r.provenance for r in ordered if r.config == name and r.provenance})
        configs.append(config_info(backend, provenance))
    return EvalRun(configs=configs, results=ordered)
