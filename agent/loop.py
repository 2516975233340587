"""The planner loop: snapshot the page, ask the model, run its tool calls, until it answers.

Each step sends the model one observation (URL, title, tabs, what changed, the snapshot) and
runs the tool calls it answers with, in order. Older snapshots in the history are replaced by a
short note, so the conversation grows by a few lines per step rather than by a page. The run ends
when the model calls ``done`` or replies with plain text, or at ``max_steps``, a model error or
the wall-clock timeout; every ending is an ``InteractionResult``, never an exception, except a
lost browser (``SessionLostError``) or a bug.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from playwright.async_api import Error as PlaywrightError

from agent.config import Settings, load_settings
from agent.errors import ModelError, SessionLostError, first_line
from agent.messages import (
    AssistantMessage,
    Message,
    ModelResponse,
    ModelSettings,
    SystemMessage,
    ToolCall,
    ToolResult,
    ToolResultMessage,
    Usage,
    UserMessage,
)
from agent.models.traced import provider_and_name, request_model
from agent.observability import current_telemetry
from agent.recipes import RecipeRecorder, render_bash
from agent.results import InteractionResult, Step, StopReason
from prompts import render
from tools import default_toolbox
from tools.base import Tool, ToolBox, ToolOutcome, tool
from tools.context import ToolContext

if TYPE_CHECKING:
    from agent.browser.session import BrowserSession
    from agent.browser.snapshot import Snapshot
    from agent.models.base import Model
    from agent.recipes import Replay

__all__ = ["DONE_TOOL", "StepCallback", "done", "run_prompt"]

log = logging.getLogger(__name__)

StepCallback = Callable[[Step], "Awaitable[None] | None"]
"""Called with each step as it finishes (sync or async)."""


@tool
async def done(ctx: ToolContext, answer: str) -> str:
    """Finish the task and give the user your final answer.

    Args:
        answer: The complete answer: the information asked for, or what you did and how the
            page confirmed it, or what stopped you.
    """
    return answer


DONE_TOOL: Tool = done
_SNAPSHOT_TOOL = "snapshot"


async def run_prompt(
    session: BrowserSession,
    prompt: str,
    *,
    model: Model,
    settings: Settings | None = None,
    toolbox: ToolBox | None = None,
    on_step: StepCallback | None = None,
    timeout_s: float | None = None,
    handover: Replay | None = None,
) -> InteractionResult:
    """Carry out ``prompt`` on the session's page with ``model`` choosing the tool calls.

    Holds ``session.lock`` for the whole run, so prompts and code on one session never interleave.

    Args:
        session: the browser session whose current page the tools act on.
        prompt: the task, in natural language.
        model: the model that plans; any object with the ``Model`` protocol.
        settings: ``max_steps``, ``max_snapshot_tokens`` and model knobs; from the environment
            when None.
        toolbox: the tools offered besides ``done``; every browser tool when None.
        on_step: called with each step as it finishes.
        timeout_s: wall-clock limit for the whole run (waiting for the lock included).
        handover: a recipe replay that stopped (or finished, for a prompt that asks to read
            the page): the model is told what was done and carries on from the page as it is;
            the recipe of a successful run starts with the steps the replay did.

    Raises:
        SessionLostError: the browser died or its last page was closed.
    """
    settings = settings if settings is not None else load_settings()
    run = _PlannerRun(
        session,
        prompt,
        model,
        settings,
        toolbox if toolbox is not None else default_toolbox(),
        on_step=on_step,
        handover=handover,
    )
    telemetry = current_telemetry()
    provider, name = provider_and_name(model.model_id)
    attributes = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.provider.name": provider,
        "gen_ai.request.model": name,
    }
    with telemetry.span("invoke_agent", attributes=attributes) as span:
        result = await _run_in_time(run, session, timeout_s)
        if span is not None:
            _record_run(span, result, prompt if telemetry.capture_content else None)
        return result


async def _run_in_time(
    run: _PlannerRun, session: BrowserSession, timeout_s: float | None
) -> InteractionResult:
    deadline = asyncio.timeout(timeout_s)
    try:
        async with deadline, session.lock:
            return await run.run()
    except TimeoutError:
        if not deadline.expired():
            raise
        message = (
            f"The interaction did not finish within {timeout_s:g} s and was stopped after "
            f"{len(run.steps)} step(s). Give it more time or split the task into smaller prompts."
        )
        return run.finish("timeout", message, error=message)


def _record_run(span: Any, result: InteractionResult, prompt: str | None) -> None:
    """The run's totals on its ``invoke_agent`` span; the prompt and answer only when content
    capture is on (``prompt`` is None otherwise)."""
    span.set_attribute("gen_ai.usage.input_tokens", result.usage.input)
    span.set_attribute("gen_ai.usage.output_tokens", result.usage.output)
    span.set_attribute("agent.stop_reason", result.stop_reason)
    span.set_attribute("agent.steps", len(result.steps))
    if prompt is not None:
        said = [{"role": "user", "parts": [{"type": "text", "content": prompt}]}]
        answer = [{"role": "assistant", "parts": [{"type": "text", "content": result.output}]}]
        span.set_attribute("gen_ai.input.messages", json.dumps(said))
        span.set_attribute("gen_ai.output.messages", json.dumps(answer))


@dataclass
class _Observation:
    """The newest observation message, kept so it can be elided once a newer one exists."""

    index: int
    variables: dict[str, Any]
    tokens: int


class _PlannerRun:
    """The state of one run: the conversation, the steps so far, and what the model last saw."""

    def __init__(
        self,
        session: BrowserSession,
        prompt: str,
        model: Model,
        settings: Settings,
        toolbox: ToolBox,
        *,
        on_step: StepCallback | None,
        handover: Replay | None = None,
    ) -> None:
        self.session = session
        # The run's own budget and last snapshot travel with its tool calls.
        self.ctx = ToolContext(session, settings.max_snapshot_tokens)
        self.prompt = prompt
        self.model = model
        self.settings = settings
        self.model_settings = ModelSettings.from_settings(settings)
        self.toolbox = toolbox
        self.finisher = ToolBox([DONE_TOOL])
        self.specs = [*toolbox.specs, DONE_TOOL.spec]
        self.on_step = on_step
        # The recipe of this run (issue 25): fed by every successful tool call.
        self.handover = handover
        self.recorder = RecipeRecorder(session, steps=tuple(handover.steps) if handover else ())
        self.started = time.perf_counter()
        self.messages: list[Message] = []
        self.steps: list[Step] = []
        self.usage = Usage()
        self.last_seen = ""  # the snapshot text of the latest observation sent
        self._previous: Snapshot | None = None
        self._tabs = 0
        self._observation: _Observation | None = None
        # ToolResultMessages holding snapshot tool output: (message index, step, URL then).
        self._snapshot_results: list[tuple[int, int, str]] = []

    async def run(self) -> InteractionResult:
        self.messages.append(
            SystemMessage(
                render(
                    "system",
                    tools=sorted(self.toolbox.tools),
                    done_tool=DONE_TOOL.name,
                    max_steps=self.settings.max_steps,
                    snapshot_tokens=self.settings.max_snapshot_tokens,
                )
            )
        )
        if self.handover is not None:
            replay = self.handover
            note = render("handover", done=replay.done, stopped_at=replay.stopped_at,
                          reason=replay.reason, done_tool=DONE_TOOL.name)  # fmt: skip
            self.messages.append(UserMessage(note))
        for number in range(1, self.settings.max_steps + 1):
            ending = await self._step(number)
            if ending is not None:
                return ending
        last_text = self.steps[-1].text if self.steps else None
        said = f" Its last message: {last_text.strip()}" if last_text and last_text.strip() else ""
        message = (
            f"Stopped after {self.settings.max_steps} steps without a final answer: the task was "
            "not finished. Raise max_steps (AGENT_MAX_STEPS) or split the task into smaller "
            f"prompts.{said}"
        )
        return self.finish("max_steps", message, error=message)

    def finish(
        self, reason: StopReason, output: str, *, error: str | None = None
    ) -> InteractionResult:
        recipe = None
        if reason in ("done", "answer"):
            recipe = self.recorder.recipe(output, prompt=self.prompt, seen=self.last_seen)
        return InteractionResult(
            recipe=recipe,
            script=render_bash(recipe) if recipe is not None else None,
            output=output,
            result=self.last_seen,
            stop_reason=reason,
            steps=list(self.steps),
            usage=self.usage,
            error=error,
            duration_s=time.perf_counter() - self.started,
        )

    async def _step(self, number: int) -> InteractionResult | None:
        started = time.perf_counter()
        snapshot, snapshot_s = await self._observe(number)

        model_started = time.perf_counter()
        try:
            response = await request_model(
                self.model, tuple(self.messages), tools=self.specs, settings=self.model_settings
            )
        except ModelError as exc:
            message = f"The model failed, so the interaction stopped: {exc}"
            return self.finish("model_error", message, error=str(exc))
        model_s = time.perf_counter() - model_started
        self.usage += response.usage
        self.messages.append(AssistantMessage(response.text, response.tool_calls))

        answer: str | None = None
        results: list[ToolResult] = []
        tool_s = 0.0
        if response.tool_calls:
            tools_started = time.perf_counter()
            results, answer = await self._run_calls(response.tool_calls)
            tool_s = time.perf_counter() - tools_started
            self.messages.append(ToolResultMessage(tuple(results)))
            if any(r.name == _SNAPSHOT_TOOL and not r.is_error for r in results):
                self._snapshot_results.append((len(self.messages) - 1, number, _url(self.session)))
        elif not (response.text or "").strip():
            self.messages.append(UserMessage(render("no_action", done_tool=DONE_TOOL.name)))

        await self._record(
            number, snapshot, response, results, model_s, tool_s, snapshot_s, started
        )
        if answer is not None:
            return self.finish("done", answer)
        if not response.tool_calls and (response.text or "").strip():
            return self.finish("answer", (response.text or "").strip())
        return None

    async def _record(
        self,
        number: int,
        snapshot: Snapshot | None,
        response: ModelResponse,
        results: list[ToolResult],
        model_s: float,
        tool_s: float,
        snapshot_s: float,
        started: float,
    ) -> None:
        observed = self._observation.variables if self._observation else {}
        step = Step(
            number=number,
            url=str(observed.get("url", "")),
            title=str(observed.get("title", "")),
            snapshot_tokens=snapshot.tokens if snapshot else 0,
            text=response.text,
            tool_calls=response.tool_calls,
            results=tuple(results),
            usage=response.usage,
            model_latency_s=model_s,
            tool_latency_s=tool_s,
            snapshot_latency_s=snapshot_s,
            duration_s=time.perf_counter() - started,
        )
        self.steps.append(step)
        log.debug(
            "step %d on %s: %s in %.0f ms (model %.0f ms)",
            number,
            step.url,
            ", ".join(f"{r.name}{'!' if r.is_error else ''}" for r in results) or "no tools",
            step.duration_s * 1000,
            model_s * 1000,
        )
        if self.on_step is not None:
            called = self.on_step(step)
            if inspect.isawaitable(called):
                await called

    async def _observe(self, number: int) -> tuple[Snapshot | None, float]:
        """Snapshot the page and append the observation, eliding the older snapshots.

        Returns the snapshot and the seconds taking it took (rendering not included).
        """
        snapshot_started = time.perf_counter()
        snapshot, error = await self._snapshot()
        snapshot_s = time.perf_counter() - snapshot_started
        page = self.session.page
        tabs = len(self.session.tabs)
        previous = self._previous
        current_refs = set(snapshot.refs) if snapshot else set()
        previous_refs = set(previous.refs) if previous else set()
        url = snapshot.url if snapshot else page.url
        title = snapshot.title if snapshot else await _title(page)
        variables: dict[str, Any] = {
            "task": self.prompt if number == 1 else None,
            "step": number,
            "max_steps": self.settings.max_steps,
            "done_tool": DONE_TOOL.name,
            "url": url,
            "title": title,
            "tabs": tabs,
            "previous_url": previous.url if previous and previous.url != url else None,
            "tab_opened": number > 1 and tabs > self._tabs,
            "refs_added": len(current_refs - previous_refs),
            "refs_removed": len(previous_refs - current_refs) if previous else 0,
            "snapshot": snapshot.text if snapshot else "",
            "snapshot_error": error,
        }
        self._elide_history()
        self.messages.append(UserMessage(render("observation", **variables)))
        self._observation = _Observation(
            len(self.messages) - 1, variables, snapshot.tokens if snapshot else 0
        )
        self.last_seen = snapshot.text if snapshot else ""
        if snapshot is not None:
            self._previous = snapshot
            self.ctx.last_snapshot = snapshot
        self._tabs = tabs
        return snapshot, snapshot_s

    async def _snapshot(self) -> tuple[Snapshot | None, str | None]:
        """A full snapshot within the budget; one retry when the page was mid-navigation."""
        error = ""
        for attempt in range(2):
            try:
                shot = await self.session.snapshot(max_tokens=self.settings.max_snapshot_tokens)
            except PlaywrightError as exc:
                self._check_alive(exc)
                error = first_line(exc)
                if attempt == 0:
                    with contextlib.suppress(PlaywrightError):
                        await self.session.page.wait_for_load_state("load", timeout=5000)
                continue
            return shot, None
        log.warning("snapshot failed twice: %s", error)
        return None, error

    def _elide_history(self) -> None:
        """Replace the previous observation's snapshot, and snapshot tool results the model has
        already answered, by a short note."""
        previous = self._observation
        if previous is not None:
            note = render(
                "elided_snapshot",
                step=previous.variables["step"],
                url=previous.variables["url"],
                tokens=previous.tokens,
            )
            self.messages[previous.index] = UserMessage(
                render("observation", **{**previous.variables, "snapshot": note})
            )
        # The tool results of the step just finished are still unseen by the model: keep them.
        newest = len(self.messages) - 1
        keep = [entry for entry in self._snapshot_results if entry[0] >= newest]
        for index, step, url in self._snapshot_results:
            message = self.messages[index]
            if index >= newest or not isinstance(message, ToolResultMessage):
                continue
            self.messages[index] = ToolResultMessage(
                tuple(self._elide_result(r, step, url) for r in message.results)
            )
        self._snapshot_results = keep

    def _elide_result(self, result: ToolResult, step: int, url: str) -> ToolResult:
        if result.name != _SNAPSHOT_TOOL or result.is_error:
            return result
        tokens = self.session.counter.count(result.content)
        note = render("elided_snapshot", step=step, url=url, tokens=tokens)
        return ToolResult(result.call_id, result.name, note)

    async def _run_calls(self, calls: Sequence[ToolCall]) -> tuple[list[ToolResult], str | None]:
        """Run the calls in order; stop at a valid ``done`` and return its answer."""
        results: list[ToolResult] = []
        for call in calls:
            pending = await self.recorder.before(call)
            outcome, kind = await self._traced_call(call)
            self.recorder.after(pending, ok=not outcome.is_error, content=outcome.content)
            if call.name == DONE_TOOL.name and not outcome.is_error:
                results.append(ToolResult(call.id, call.name, "finished"))
                return results, outcome.content
            content = outcome.content
            if outcome.is_error:
                content = render("tool_error", tool=call.name, error=outcome.content, kind=kind)
            results.append(ToolResult(call.id, call.name, content, outcome.is_error))
        return results, None

    async def _traced_call(self, call: ToolCall) -> tuple[ToolOutcome, str]:
        """One call in an ``execute_tool {name}`` span, counted by its outcome: ``ok``,
        ``error`` (the tool said what went wrong), ``arguments`` or ``unknown_tool``."""
        known = call.name in self.toolbox or call.name == DONE_TOOL.name
        tool_name = call.name if known else "unknown"  # a label never takes the model's text
        telemetry = current_telemetry()
        attributes = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": tool_name,
            "gen_ai.tool.call.id": call.id,
            "gen_ai.tool.type": "function",
        }
        with telemetry.span(f"execute_tool {tool_name}", attributes=attributes) as span:
            outcome, kind = await self._dispatch(call)
            if span is not None:
                if outcome.is_error:
                    span.set_attribute("error.type", kind)
                if telemetry.capture_content:
                    span.set_attribute("gen_ai.tool.call.arguments", json.dumps(call.arguments))
                    span.set_attribute("gen_ai.tool.call.result", outcome.content)
        if telemetry.recorder is not None:
            label = "ok" if not outcome.is_error else ("error" if kind == "tool" else kind)
            telemetry.recorder.tool_call(tool_name, label)
        return outcome, kind

    async def _dispatch(self, call: ToolCall) -> tuple[ToolOutcome, str]:
        """Run one call; its outcome, and what kind of call it was for an error's wording."""
        if call.arguments_error is not None:
            return ToolOutcome(call.arguments_error, True), "arguments"
        if call.name == DONE_TOOL.name:
            return await self.finisher.call(self.ctx, call.name, call.arguments), "arguments"
        if call.name not in self.toolbox:
            known = ", ".join([*sorted(self.toolbox.tools), DONE_TOOL.name])
            message = f"there is no tool named {call.name!r}; tools: {known}."
            return ToolOutcome(message, True), "unknown_tool"
        return await self._call_tool(call), "tool"

    async def _call_tool(self, call: ToolCall) -> ToolOutcome:
        # A Playwright error no tool foresaw comes back as text the model can retry on, and a
        # lost browser as SessionLostError, from the one fallback in ``tools.base.call_tool``.
        return await self.toolbox.call(self.ctx, call.name, call.arguments)

    def _check_alive(self, exc: BaseException) -> None:
        if not self.session.alive:
            raise SessionLostError(
                "The session's browser died during the interaction. Start a new session."
            ) from exc


def _url(session: BrowserSession) -> str:
    try:
        return session.page.url
    except SessionLostError:
        return ""


async def _title(page: Any) -> str:
    try:
        return str(await page.title())
    except PlaywrightError:
        return ""
