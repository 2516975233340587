"""MiniWoB++ tasks solved by reference solvers that act only through our tools.

``run_miniwob`` runs each solver of ``evals/miniwob_solvers.py`` on its task for a few seeds,
through the harness of ``evals/miniwob_agent.py``, and reads the reward from
``WOB_DONE_GLOBAL`` / ``WOB_RAW_REWARD_GLOBAL``. Each result says which kinds of refs the solver
needed beyond the named roles of a plain accessibility snapshot: inline ``clickable`` text,
pointer ``generic`` elements, or fields without a name (found by the text beside them or by
position).
"""

from __future__ import annotations

import asyncio
import fnmatch
import re
import time
from collections.abc import Callable, Sequence

from agent.errors import ConfigError
from evals.browsers import BrowserPool
from evals.miniwob_agent import MiniwobAgent, Solver, miniwob_dir, start_episode
from evals.miniwob_solvers import SOLVERS
from evals.results import EvalConfigInfo, EvalRun, StepRecord, TaskResult

__all__ = ["run_miniwob"]

_REWARD_JS = "() => [WOB_DONE_GLOBAL, WOB_RAW_REWARD_GLOBAL, WOB_REWARD_REASON]"


async def _run_one(task: str, seed: int, solver: Solver, browsers: BrowserPool) -> TaskResult:
    started = time.perf_counter()
    async with browsers.session() as session:
        # Task pages are local files; nothing may reach the network.
        await session.context.route(re.compile(r"^(https?|wss?)://"), lambda r: r.abort())
        utterance = await start_episode(session, task, seed)
        agent = MiniwobAgent(session, utterance)
        error = None
        try:
            await asyncio.wait_for(solver(agent), timeout=60)
        except Exception as exc:  # a failing solver is a result, not a crash of the run
            error = f"{type(exc).__name__}: {exc}"
        await asyncio.sleep(0.05)
        done, reward, reason = await session.page.evaluate(_REWARD_JS)
    success = bool(done) and float(reward) > 0
    check = f"episode {'done' if done else 'not done'}, raw reward {float(reward):g}"
    if reason:
        check += f" ({reason})"
    needs = sorted(agent.needs)
    return TaskResult(
        task_id=f"{task}#seed{seed}",
        config="miniwob (reference solvers)",
        prompt=utterance,
        start_url=f"miniwob/{task}.html",
        tags=["miniwob", task],
        success=success,
        check=check,
        stop_reason="done" if error is None else "solver_error",
        steps=[StepRecord(number=1, url=f"miniwob/{task}.html", calls=agent.calls)],
        wall_s=time.perf_counter() - started,
        error=error,
        extra={"task": task, "seed": seed, "needs": needs},
    )


async def run_miniwob(
    *,
    pattern: str | None = None,
    seeds: Sequence[int] | range = range(3),
    jobs: int = 2,
    on_result: Callable[[TaskResult], object] | None = None,
    on_total: Callable[[int], object] | None = None,
) -> EvalRun:
    """Run the reference solver of every MiniWoB++ task in the subset, for each seed."""
    miniwob_dir()  # fail early, with the install hint
    names = [n for n in SOLVERS if _matches(n, pattern)]
    if not names:
        raise ConfigError(f"No MiniWoB++ task of the subset matches {pattern!r}.")
    pairs = [(name, seed) for name in names for seed in seeds]
    if on_total is not None:
        on_total(len(pairs))
    limit = asyncio.Semaphore(max(1, jobs))
    browsers = BrowserPool(jobs)
    results: dict[tuple[str, int], TaskResult] = {}

    async def one(name: str, seed: int) -> None:
        async with limit:
            started = time.perf_counter()
            result = await _run_one(name, seed, SOLVERS[name], browsers)
            result = result.model_copy(update={"started_s": started - run_started})
            results[(name, seed)] = result
            if on_result is not None:
                on_result(result)

    run_started = time.perf_counter()
    try:
        await asyncio.gather(*(one(name, seed) for name, seed in pairs))
    finally:
        await browsers.close()
    info = EvalConfigInfo(
        name="miniwob (reference solvers)",
        model="reference solvers (evals/miniwob_solvers.py)",
        mode="miniwob",
        label=(
            "Solvability check of the MiniWoB++ subset: hand-written reference solvers acting "
            "only through click, fill, type, press, scroll, get_text and snapshot; no model."
        ),
    )
    return EvalRun(configs=[info], results=[results[key] for key in pairs])


def _matches(name: str, pattern: str | None) -> bool:
    if not pattern:
        return True
    return any(fnmatch.fnmatch(name, p.strip()) for p in pattern.split(",") if p.strip())
