"""Replaying a recipe through the tools, with no model: each step's target must resolve to
exactly one element by its description before anything is done to it.

The first step that cannot be done stops the replay (nothing after it runs), and the
:class:`Replay` says what was done and why it stopped, for the planner to take over from.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent.errors import SessionLostError, ToolError
from tools.actions import choose_options
from tools.elements import act_on, settle, what_changed
from tools.find import MissingTargetError, resolve_description
from tools.reading import read_text

if TYPE_CHECKING:
    from playwright.async_api import Locator

    from agent.recipes.model import Recipe, RecipeStep
    from tools.base import ToolBox
    from tools.context import ToolContext

__all__ = ["Replay", "replay_recipe"]

# A target the page has not drawn yet (a list filled by a fetch) is waited for this long.
_APPEAR_S = 3.0


@dataclass
class Replay:
    """What a replay did: a line per step done, and the step it stopped at and why."""

    done: list[str] = field(default_factory=list)
    steps: list[RecipeStep] = field(default_factory=list)  # the steps done, as recorded
    stopped_at: int | None = None  # 1-based step number
    reason: str | None = None
    last_text: str | None = None

    @property
    def finished(self) -> bool:
        return self.stopped_at is None


async def replay_recipe(ctx: ToolContext, recipe: Recipe, toolbox: ToolBox) -> Replay:
    """Run the recipe's steps in order on the context's page; stop at the first that fails."""
    replay = Replay()
    for number, step in enumerate(recipe.steps, 1):
        try:
            said = await _run_step(ctx, step, toolbox)
        except SessionLostError:
            raise
        except ToolError as exc:
            replay.stopped_at, replay.reason = number, str(exc)
            return replay
        replay.done.append(said)
        replay.steps.append(step)
        replay.last_text = said if step.tool == "get_text" else None
    return replay


async def _run_step(ctx: ToolContext, step: RecipeStep, toolbox: ToolBox) -> str:
    if step.target is None:
        outcome = await toolbox.call(ctx, step.tool, dict(step.arguments))
        if outcome.is_error:
            raise ToolError(outcome.content)
        return outcome.content
    target = await _resolve(ctx, step)
    return await _act(ctx, step, target)


async def _resolve(ctx: ToolContext, step: RecipeStep) -> Locator:
    assert step.target is not None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _APPEAR_S
    while True:
        try:
            return await resolve_description(ctx.page, step.target)
        except MissingTargetError:
            if loop.time() >= deadline:
                raise
        await asyncio.sleep(0.1)


async def _act(ctx: ToolContext, step: RecipeStep, target: Locator) -> str:
    session, args = ctx.session, step.arguments
    assert step.target is not None
    label = step.target.label()
    timeout = session.action_timeout_ms
    url, pages = session.page.url, len(session.tabs)
    if step.tool == "get_text":
        return await read_text(session, target, int(args.get("offset", 0)))
    actions: dict[str, tuple[Any, bool]] = {
        "click": (lambda t: t.click(timeout=timeout), True),
        "dblclick": (lambda t: t.dblclick(timeout=timeout), True),
        "hover": (lambda t: t.hover(timeout=timeout), True),
        "check": (lambda t: t.set_checked(True, timeout=timeout), True),
        "uncheck": (lambda t: t.set_checked(False, timeout=timeout), True),
        "fill": (lambda t: t.fill(str(args.get("value", "")), timeout=timeout), False),
        "press": (lambda t: t.press(str(args.get("key", "")), timeout=timeout), False),
    }
    if step.tool == "type":
        text, submit = str(args.get("text", "")), bool(args.get("submit"))

        async def typing(t: Any) -> None:
            await t.focus()
            await t.press("End", timeout=timeout)
            await session.page.keyboard.type(text)
            if submit:
                await t.press("Enter", timeout=timeout)

        actions["type"] = (typing, False)
    if step.tool == "select_option":
        chosen = await choose_options(target, label, [str(v) for v in args.get("values") or ()])
        actions["select_option"] = (lambda t: t.select_option(value=chosen, timeout=timeout), False)
    if step.tool not in actions:
        raise ToolError(f"a recipe step {step.tool!r} cannot be replayed.")
    action, pointer = actions[step.tool]
    await act_on(session, target, label, action, pointer=pointer)
    if step.tool in ("press", "type"):
        await settle(session)
    return f"{step.tool} {label}" + what_changed(session, url, pages)
