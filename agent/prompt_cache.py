"""The prompt cache: a prompt seen before on the same page is replayed from its recipe with no
model call; when the page changed under the recipe, the planner takes over from where the replay
stopped, and its successful run replaces the recipe ("healed").

A replay never guesses: each step's target must resolve to exactly one element by its
description (role, exact name, landmark, position among equals), or the replay stops there and
the model is told what was done and why it stopped.
"""

from __future__ import annotations

import asyncio
import functools
import re
import time
from dataclasses import replace
from typing import TYPE_CHECKING

from agent.errors import SessionLostError
from agent.loop import run_prompt
from agent.recipes import (
    CacheEntry,
    CacheKey,
    Recipe,
    RecipeStore,
    Replay,
    cache_key,
    heal_failed,
    render_bash,
    replay_recipe,
)
from agent.recipes.keys import fill_secrets, redact_recipe
from agent.results import CacheReport, InteractionResult
from tools import default_toolbox
from tools.context import ToolContext

if TYPE_CHECKING:
    from agent.browser.session import BrowserSession
    from agent.config import Settings
    from agent.loop import StepCallback
    from agent.models.base import Model
    from tools.base import ToolBox

__all__ = ["run_cached_prompt"]


async def run_cached_prompt(
    session: BrowserSession,
    prompt: str,
    *,
    model: Model,
    store: RecipeStore,
    settings: Settings,
    toolbox: ToolBox | None = None,
    on_step: StepCallback | None = None,
    timeout_s: float | None = None,
    redact: re.Pattern[str] | None = None,
    scope: str = "",
) -> InteractionResult:
    """Carry out ``prompt`` from the cache when it holds a recipe for it on this page, with the
    planner otherwise (or from where the replay stopped); store the recipe of a successful run.

    ``scope`` keeps callers apart (a server passes the API key's name): a recipe, with the
    values it types, is replayed only for the caller whose run recorded it.

    Raises:
        SessionLostError: the browser died or its last page was closed.
    """
    tools = toolbox if toolbox is not None else default_toolbox()
    key = cache_key(prompt, session.page.url, redact, scope=scope)
    entry = await store.get(key.key)
    recipe = fill_secrets(entry.recipe, key.secrets) if entry is not None else None
    planner = functools.partial(
        run_prompt, session, prompt, model=model, settings=settings, toolbox=toolbox,
        on_step=on_step,
    )  # fmt: skip
    if recipe is None:
        result = await planner(timeout_s=timeout_s)
        await _store(store, key, result)
        return replace(result, cache=_report("miss", result))
    started = time.perf_counter()
    replay = await _replay(session, recipe, tools, settings, timeout_s)
    if replay is None:
        return _timed_out(recipe, timeout_s, started)
    if replay.finished:
        seen = await _final_snapshot(session, settings)
        holds = all(fact in seen for fact in recipe.facts)  # the answer is still true
        if not recipe.reads and holds:
            return _hit(recipe, recipe.answer, seen, started)
        if recipe.answer_is_text and replay.last_text:
            return _hit(recipe, replay.last_text, seen, started)
    left = None if timeout_s is None else max(1.0, timeout_s - (time.perf_counter() - started))
    result = await planner(timeout_s=left, handover=replay)
    result = replace(result, duration_s=time.perf_counter() - started)
    if replay.finished:  # a prompt that reads, or a stale answer: one call reads the page
        return replace(result, cache=_report("hit", result, len(recipe.steps)))
    healed = (
        result.success
        and result.recipe is not None
        and len(result.recipe.steps) > len(replay.steps)  # the planner found another way
    )
    if healed:
        await _store(store, key, result)
    else:
        await heal_failed(store, key.key)
    status = "healed" if healed else "miss"
    report = _report(status, result, stopped_at=replay.stopped_at, reason=replay.reason)
    return replace(result, cache=report)


async def _replay(
    session: BrowserSession,
    recipe: Recipe,
    tools: ToolBox,
    settings: Settings,
    timeout_s: float | None,
) -> Replay | None:
    """The replay under the session's lock; None when it ran out of time."""
    ctx = ToolContext(session, settings.max_snapshot_tokens)
    try:
        async with asyncio.timeout(timeout_s), session.lock:
            return await replay_recipe(ctx, recipe, tools)
    except TimeoutError:
        return None


async def _final_snapshot(session: BrowserSession, settings: Settings) -> str:
    """The text of the page a replay left, for ``result`` and to check the answer against."""
    async with session.lock:
        try:
            shot = await session.snapshot(max_tokens=settings.max_snapshot_tokens)
        except SessionLostError:
            raise
        except Exception:  # an unreadable page: the answer cannot be checked, the model reads
            return ""
    return shot.text


def _hit(recipe: Recipe, answer: str, seen: str, started: float) -> InteractionResult:
    return InteractionResult(
        output=answer,
        result=seen,
        stop_reason="done",
        duration_s=time.perf_counter() - started,
        recipe=recipe,
        script=render_bash(recipe),
        cache=CacheReport("hit", 0, len(recipe.steps)),
    )


def _timed_out(recipe: Recipe, timeout_s: float | None, started: float) -> InteractionResult:
    message = (
        f"The cached recipe did not finish replaying within {timeout_s:g} s. Give it more time."
    )
    return InteractionResult(
        output=message,
        result="",
        stop_reason="timeout",
        error=message,
        duration_s=time.perf_counter() - started,
        cache=CacheReport("hit", 0, len(recipe.steps)),
    )


def _report(
    status: str,
    result: InteractionResult,
    steps: int | None = None,
    *,
    stopped_at: int | None = None,
    reason: str | None = None,
) -> CacheReport:
    count = steps if steps is not None else (len(result.recipe.steps) if result.recipe else 0)
    return CacheReport(status, len(result.steps), count, stopped_at, reason)  # type: ignore[arg-type]


async def _store(store: RecipeStore, key: CacheKey, result: InteractionResult) -> None:
    recipe = result.recipe
    if recipe is None or not result.success or not recipe.complete:
        return
    now = time.time()
    await store.put(
        CacheEntry(
            key=key.key,
            prompt=key.prompt,
            origin=key.origin,
            path=key.path,
            recipe=redact_recipe(recipe, key.secrets),
            stored_at=now,
            expires_at=now + store.ttl_s,
            scope=key.scope,
        )
    )
