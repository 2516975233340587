"""Running one interact call, by prompt or by code, on a session, as Firecrawl's fields."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agent.errors import ExecutorStartError, RequestError, SessionLostError
from agent.executors import run_code
from agent.loop import run_prompt
from agent.prompt_cache import run_cached_prompt
from agent.service.accounting import current_key
from agent.service.metrics import outcome_of
from agent.service.schemas import InteractRequest, Language

if TYPE_CHECKING:
    from agent.browser.session import BrowserSession
    from agent.config import Settings
    from agent.models.base import Model
    from agent.recipes import RecipeStore
    from agent.results import InteractionResult
    from agent.service.registry import ServerSession
    from agent.service.state import ServerState

__all__ = ["InteractOutcome", "run_code_call", "run_interact", "run_prompt_call"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InteractOutcome:
    """What an interact call produced, before the session's URLs are added."""

    output: str
    stdout: str
    result: str
    stderr: str
    exit_code: int
    killed: bool
    truncated: bool = False
    error: str | None = None
    script: str | None = None  # a prompt's recipe as agent-browser commands (issue 25)
    cache: dict[str, object] | None = None  # what the prompt cache did, for a prompt

    @property
    def success(self) -> bool:
        return self.exit_code == 0 and not self.killed


async def run_interact(
    state: ServerState,
    session: BrowserSession,
    request: InteractRequest,
    *,
    served: ServerSession | None = None,
) -> InteractOutcome:
    """One interact call as the HTTP API and the MCP server both take it: the prompt when it
    has any text, else the code, with the server's settings and default timeouts.

    ``served``: the server session ``session`` belongs to, whose key is charged its interact
    minutes (see :mod:`agent.service.usage`); the call is refused with a 402 when the caller's
    key has spent its budget.
    """
    prompted = bool(request.prompt and request.prompt.strip())
    await state.usage.check(current_key(), tokens=prompted)
    if served is not None:
        state.usage.interacting(served.id, served.record.key_name or current_key())
    mode, language = ("prompt", "") if prompted else ("code", request.code_language)
    started, outcome = time.perf_counter(), "success"
    try:
        if prompted:
            use_cache = request.cache
            if use_cache is None:
                use_cache = state.agent_settings.prompt_cache
            done = await run_prompt_call(
                session,
                request.prompt or "",
                model=await state.model(),
                settings=state.agent_settings,
                timeout_s=float(request.timeout or state.settings.default_prompt_timeout),
                cache=state.recipes if use_cache else None,
            )
        else:
            done = await run_code_call(
                session,
                request.code or "",
                language=request.code_language,
                timeout_s=float(request.timeout or state.settings.default_code_timeout),
                settings=state.agent_settings,
            )
        outcome = "killed" if done.killed else ("success" if done.success else "failed")
        return done
    except BaseException as exc:
        outcome = outcome_of(exc)
        raise
    finally:
        if state.metrics is not None:
            seconds = time.perf_counter() - started
            state.metrics.interact_duration.labels(mode, language, outcome).observe(seconds)


async def run_prompt_call(
    session: BrowserSession,
    prompt: str,
    *,
    model: Model,
    settings: Settings,
    timeout_s: float,
    cache: RecipeStore | None = None,
) -> InteractOutcome:
    """Let the planner carry out ``prompt``; ``output`` is its answer, ``result`` the snapshot.

    ``cache``: the prompt cache's store, when this call may replay from it (see
    :mod:`agent.prompt_cache`); None runs the planner as always.

    Raises:
        RequestError: MODEL_BACKEND_ERROR when the model backend failed, so the caller knows
            to retry later rather than to rephrase.
    """
    run = await _run(session, prompt, model=model, settings=settings, timeout_s=timeout_s,
                     cache=cache)  # fmt: skip
    if run.stop_reason == "model_error":
        raise RequestError(
            "MODEL_BACKEND_ERROR",
            f"The model backend failed, so the prompt was not carried out: {run.error}",
            details={"steps": len(run.steps)},
        )
    killed = run.stop_reason == "timeout"
    return InteractOutcome(
        output=run.output,
        stdout="",
        result=run.result,
        stderr=run.error or "",
        exit_code=0 if run.success else (124 if killed else 1),
        killed=killed,
        error=None if run.success else (run.error or run.output),
        script=run.script,
        cache=_cache_field(run),
    )


async def _run(
    session: BrowserSession,
    prompt: str,
    *,
    model: Model,
    settings: Settings,
    timeout_s: float,
    cache: RecipeStore | None,
) -> InteractionResult:
    if cache is None:
        return await run_prompt(
            session, prompt, model=model, settings=settings, timeout_s=timeout_s
        )
    return await run_cached_prompt(
        session,
        prompt,
        model=model,
        store=cache,
        settings=settings,
        timeout_s=timeout_s,
        redact=settings.redact_pattern,
        scope=current_key(),
    )


def _cache_field(run: InteractionResult) -> dict[str, object]:
    """The response's ``cache``: ``{status, modelCalls, steps}``, and where a replay stopped."""
    report = run.cache
    field: dict[str, object] = {
        "status": report.status,
        "modelCalls": report.model_calls if report.status != "off" else len(run.steps),
        "steps": report.steps
        if report.status != "off"
        else len(run.recipe.steps)
        if run.recipe
        else 0,
    }
    if report.stopped_at is not None:
        field["stoppedAt"] = report.stopped_at
        field["reason"] = report.reason
    return field


async def run_code_call(
    session: BrowserSession,
    code: str,
    *,
    language: Language,
    timeout_s: float,
    settings: Settings | None = None,
) -> InteractOutcome:
    """Run ``code`` with the session's page bound, holding the session's lock meanwhile.

    Raises:
        RequestError: SANDBOX_UNAVAILABLE when the code's sandbox or worker did not start: the
            server failed, not the code, so the client must not read it as the code's exit 1.
    """
    async with session.lock:
        try:
            ran = await run_code(session, code, language, timeout_s, settings=settings)
        except ExecutorStartError as exc:
            raise RequestError(
                "SANDBOX_UNAVAILABLE",
                f"{exc}. The code did not run: this is the server's failure, not the code's. "
                "Try again; if it persists, the server's operator must fix its sandbox (the "
                "server's log has the details, `agent serve` checks it at start).",
            ) from exc
    if (ran.exit_code != 0 or ran.killed) and not session.alive:
        # The code failed because the browser died under it: say so now, not on the next call.
        raise SessionLostError(
            f"The session's browser died while the code ran (the code's last error: {ran.summary})."
        )
    if ran.killed:
        # Code killed during page.goto of a site that never answers leaves that navigation
        # pending, which would keep the replacement worker from attaching.
        await session.stop_loading()
    error = None
    if ran.killed:
        error = f"The code did not finish within {timeout_s:g} s and was killed."
    elif ran.exit_code != 0:
        error = f"The code failed with exit code {ran.exit_code}: {ran.summary}"
    return InteractOutcome(
        output=ran.stdout,
        stdout=ran.stdout,
        result=ran.result,
        stderr=ran.stderr,
        exit_code=ran.exit_code,
        killed=ran.killed,
        truncated=ran.truncated,
        error=error,
    )
