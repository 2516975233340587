"""Replaying a recipe through the tools, with no model: each step's target must resolve to
exactly one element by its description before anything is done to it.

The first step that cannot be done stops the replay (nothing after it runs), and the
:class:`Replay` says what was done and why it stopped, for the planner to take over from.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from playwright.async_api import Error as PlaywrightError

from agent.errors import SessionLostError, ToolError, first_line
from tools import element_actions as act
from tools.find import MissingTargetError, resolve_description
from tools.navigation import scroll_by
from tools.page_actions import wait_visible
from tools.reading import read_text
from tools.targets import Found

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from playwright.async_api import Locator

    from agent.recipes.model import Recipe, RecipeStep
    from tools.base import ToolBox, ToolOutcome
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
    if step.tool == "wait_for":
        return await _wait_for(ctx, step, toolbox)
    target = await _resolve(ctx, step)
    if step.tool == "scroll":
        return await _scroll(ctx, step, target)
    return await _act(ctx, step, target)


async def _wait_for(ctx: ToolContext, step: RecipeStep, toolbox: ToolBox) -> str:
    """A ``wait_for`` of an element: its text or load state as recorded, then the element,
    found by its description within the step's own timeout, until it is visible."""
    assert step.target is not None
    args = dict(step.arguments)
    timeout_s = min(max(float(args.get("timeout_s", 5.0)), 0.1), 30.0)
    if args.get("text") or args.get("load_state"):
        outcome = await toolbox.call(ctx, "wait_for", args)
        if outcome.is_error:
            raise ToolError(outcome.content)
    target = await _resolve(ctx, step, appear_s=max(_APPEAR_S, timeout_s))
    try:
        await wait_visible(target, timeout_ms=timeout_s * 1000)
    except PlaywrightError as exc:
        raise ToolError(
            f"Waited {timeout_s:g} s for {step.target.label()} to be visible: {first_line(exc)}"
        ) from exc
    return f"done waiting: {step.target.label()} is visible"


async def _scroll(ctx: ToolContext, step: RecipeStep, target: Locator) -> str:
    """A ``scroll`` of a region (or of an element into view), found by its description."""
    assert step.target is not None
    args = step.arguments
    direction = str(args.get("direction", "down"))
    if direction not in ("down", "up", "left", "right"):
        raise ToolError(f"a recipe step scrolls {direction!r}, which is no direction.")
    amount = args.get("amount")
    try:
        return await scroll_by(
            ctx,
            direction,  # type: ignore[arg-type]
            int(amount) if amount is not None else None,
            Found(target, step.target.label()),
        )
    except PlaywrightError as exc:
        raise ToolError(f"could not scroll {step.target.label()}: {first_line(exc)}") from exc


async def _resolve(ctx: ToolContext, step: RecipeStep, *, appear_s: float = _APPEAR_S) -> Locator:
    assert step.target is not None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + appear_s
    while True:
        try:
            return await resolve_description(ctx.page, step.target)
        except MissingTargetError:
            if loop.time() >= deadline:
                raise
        await asyncio.sleep(0.1)


async def _act(ctx: ToolContext, step: RecipeStep, target: Locator) -> str:
    """Do the step's action through the shared element actions (``tools.element_actions``)."""
    args = step.arguments
    assert step.target is not None
    found = Found(target, step.target.label())
    if step.tool == "get_text":
        return await read_text(ctx.session, target, int(args.get("offset", 0)))
    text = str(args.get("text", ""))
    actions: dict[str, Callable[[], Awaitable[ToolOutcome]]] = {
        **act.argument_free(ctx, found),
        "fill": lambda: act.fill(ctx, found, str(args.get("value", ""))),
        "press": lambda: act.press(ctx, str(args.get("key", "")), found),
        "type": lambda: act.type_into(ctx, found, text, submit=bool(args.get("submit"))),
        "select_option": lambda: act.select(ctx, found, [str(v) for v in args.get("values") or ()]),
    }
    if step.tool not in actions:
        raise ToolError(f"a recipe step {step.tool!r} cannot be replayed.")
    outcome = await actions[step.tool]()
    if outcome.is_error:
        raise ToolError(outcome.content)
    return outcome.content
