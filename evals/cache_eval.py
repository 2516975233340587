"""``agent eval --cache``: each task run twice with the prompt cache on, a first run that fills
it and a second that replays it, and the model calls, tokens and wall time of each.

With ``perturbed``, the second run's pages are changed at serve time (:mod:`evals.perturb`):
the same names in another nesting, with unrelated elements before the targets, so the figures
show how many replays hold without the model. With ``renamed``, the second run's pages say the
labels of :data:`evals.perturb.RENAMES` the other way: a replay that reaches one stops, and the
planner heals it, with the reference policy reading the renamed labels through the same table.

The model is the reference policy played in process (as ``--solutions`` does): cassettes hold
the requests of a full run, and a replay makes fewer, or other ones (a hand-over). When the
cache hands a finished replay over for the answer, the policy answers with its solution's last
turn, as a model reading the final page would; when a replay stopped at step N, the policy goes
on from its solution's call N (the calls before it were done by the replay), as a model told
what was done would.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from agent.messages import Message, ToolCall, ToolSpec
from agent.models.scripted import ScriptedModel
from agent.prompt_cache import run_cached_prompt
from agent.recipes import RecipeStore, SqliteRecipeStore
from evals.backends import EvalBackend
from evals.browsers import fresh_browser
from evals.checks import run_check
from evals.metering import MeteredModel
from evals.perturb import RENAMES, perturb_html, rename_html, route_perturbed
from evals.reference import ConversationView, ReferencePolicy, view_of_messages
from evals.runner import eval_settings
from evals.sites import SiteServer, route_sites, site_url
from evals.tasks import SolutionCall, Target, Task, load_tasks

__all__ = ["CacheRun", "Pages", "main", "print_figures", "renamed_task", "run_cache_suite"]

_FINISHED = "every step of it worked"
_STOPPED = re.compile(r"stopped at its step (\d+)")

Pages = Literal["same", "perturbed", "renamed"]
"""The second run's pages: as the first's, restyled, or with renamed labels."""


@dataclass(frozen=True)
class CacheRun:
    """One run of one task: what the cache did and what it cost."""

    task_id: str
    run: str  # "fill" or "replay"
    success: bool
    status: str
    model_calls: int
    tokens: int
    wall_s: float
    reason: str | None = None


def _renamed(target: Target | None) -> Target | None:
    if target is None:
        return None
    name = RENAMES.get(target.name, target.name)
    return replace(target, name=name, within=_renamed(target.within))


def renamed_task(task: Task) -> Task:
    """``task`` with its solution's targets named as the renamed pages name them."""
    solution = [
        [replace(call, target=_renamed(call.target)) for call in turn] for turn in task.solution
    ]
    return task.model_copy(update={"solution": solution})


def _after(task: Task, done: int) -> Task:
    """``task`` with the first ``done`` calls of its solution left out (a replay did them)."""
    turns: list[list[SolutionCall]] = []
    for turn in task.solution:
        kept = []
        for call in turn:
            if done and call.tool != "done":
                done -= 1
                continue
            kept.append(call)
        if kept:
            turns.append(kept)
    return task.model_copy(update={"solution": turns})


def _model(policy: ReferencePolicy, task: Task) -> ScriptedModel:
    def answer(messages: Sequence[Message], tools: Sequence[ToolSpec]) -> list[ToolCall]:
        view = view_of_messages(messages)
        playing = task
        stopped = next(filter(None, (_STOPPED.search(text) for text in view.texts)), None)
        if any(_FINISHED in text for text in view.texts):  # read the page: the last turn
            skip = len(task.solution) - 1
            view = ConversationView(view.first_user_text, view.assistant_turns + skip, view.texts)
        elif stopped is not None:  # go on from where the replay stopped
            playing = _after(task, int(stopped.group(1)) - 1)
        return [
            ToolCall(f"call_{view.assistant_turns}_{i}", call.name, call.arguments)
            for i, call in enumerate(policy.decide(view, playing), 1)
        ]

    return ScriptedModel(answer, model_id="scripted:reference-policy")


async def _once(
    task: Task,
    policy: ReferencePolicy,
    store: RecipeStore,
    server: SiteServer,
    *,
    run: str,
    pages: Pages,
) -> CacheRun:
    backend = EvalBackend("scripted:reference-policy", "solutions", Path("."), policy=policy)
    started = time.perf_counter()
    async with fresh_browser().session() as session:
        if pages == "same":
            await route_sites(session.context, server)
        else:
            change = rename_html if pages == "renamed" else perturb_html
            await route_perturbed(session.context, server, change)
        await session.goto(site_url(task.start))
        model = _model(policy, renamed_task(task) if pages == "renamed" else task)
        result = await run_cached_prompt(
            session,
            task.prompt,
            model=MeteredModel(model),  # the scripted model reports no tokens: count them
            store=store,
            settings=eval_settings(task, backend),
            timeout_s=task.timeout_s,
        )
        check = await run_check(task.check, session.page, result.output if result.success else None)
    return CacheRun(
        task_id=task.id,
        run=run,
        success=check.passed,
        status=result.cache.status,
        model_calls=len(model.requests),
        tokens=result.usage.input + result.usage.output,
        wall_s=time.perf_counter() - started,
        reason=result.cache.reason,
    )


async def run_cache_suite(
    tasks: Sequence[Task], *, pages: Pages = "same"
) -> list[tuple[CacheRun, CacheRun]]:
    """Each task filled then replayed (on restyled or renamed pages when asked), one at a
    time."""
    policy = ReferencePolicy(tasks)
    pairs = []
    with tempfile.TemporaryDirectory() as folder, SiteServer() as server:
        store = SqliteRecipeStore(Path(folder) / "cache.sqlite3", ttl_s=3600)
        try:
            for task in tasks:
                fill = await _once(task, policy, store, server, run="fill", pages="same")
                again = await _once(task, policy, store, server, run="replay", pages=pages)
                pairs.append((fill, again))
        finally:
            await store.close()
    return pairs


def print_figures(pairs: Sequence[tuple[CacheRun, CacheRun]]) -> None:
    """A line per task, then the totals: calls, tokens and wall time of fill and replay."""
    for fill, again in pairs:
        print(
            f"{fill.task_id:28} fill {'ok ' if fill.success else 'FAIL'} {fill.model_calls:2} "
            f"calls {fill.wall_s:5.1f} s | replay {'ok ' if again.success else 'FAIL'} "
            f"{again.status:6} {again.model_calls:2} calls {again.wall_s:5.1f} s"
            + (f"  ({again.reason})" if again.reason else "")
        )
    if not pairs:
        return
    fills = [f for f, _ in pairs]
    agains = [a for _, a in pairs]
    fill_wall = sum(r.wall_s for r in fills)
    again_wall = sum(r.wall_s for r in agains)
    no_model = sum(1 for r in agains if r.model_calls == 0)
    print(
        f"tasks {len(pairs)}: success fill {sum(r.success for r in fills)}, replay "
        f"{sum(r.success for r in agains)}; model calls fill {sum(r.model_calls for r in fills)}, "
        f"replay {sum(r.model_calls for r in agains)}; tokens fill "
        f"{sum(r.tokens for r in fills)}, replay {sum(r.tokens for r in agains)}; replays with "
        f"no model call {no_model}/{len(pairs)}; statuses "
        + ", ".join(
            f"{s} {sum(1 for r in agains if r.status == s)}" for s in ("hit", "healed", "miss")
        )
        + f"; wall time replay/fill {again_wall / fill_wall:.2f} ({again_wall:.0f} s / "
        f"{fill_wall:.0f} s)"
    )
    held = sum(1 for r in agains if r.success and r.model_calls == 0)
    healed = sum(1 for r in agains if r.success and r.status == "healed")
    print(
        f"replays held without the model {held}, healed {healed}, other successes "
        f"{sum(r.success for r in agains) - held - healed}, failed "
        f"{sum(not r.success for r in agains)} (of {len(agains)})"
    )


async def main(*, pattern: str | None, pages: Pages = "same") -> int:
    """Run and print; exit 1 when a replay failed a task its fill passed."""
    pairs = await run_cache_suite(load_tasks(pattern=pattern), pages=pages)
    print_figures(pairs)
    return 1 if any(f.success and not a.success for f, a in pairs) else 0
