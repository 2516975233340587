"""A model that plays back a script, for tests and offline evals.

Each request returns the next scripted turn, or asks a policy function what to answer. Every
request is recorded in ``requests`` so tests can assert on what the model was shown::

    model = ScriptedModel([
        [tool_call("click", ref="e3")],   # first request: call a tool
        "The form was sent.",             # second request: final answer
    ])
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeAlias

from agent.errors import ModelResponseError
from agent.messages import Message, ModelResponse, ToolCall, ToolSpec, Usage
from agent.models.protocol import ModelBase, ModelRequest

__all__ = [
    "ScriptPolicy",
    "ScriptStep",
    "ScriptedModel",
    "ScriptedRequest",
    "ScriptedTurn",
    "tool_call",
]


@dataclass(frozen=True)
class ScriptedTurn:
    """One scripted answer: text, tool calls, or both."""

    text: str | None = None
    tool_calls: Sequence[ToolCall] = ()
    usage: Usage = field(default_factory=Usage)


ScriptStep: TypeAlias = ScriptedTurn | ModelResponse | str | list[ToolCall]
"""A script entry: a final text answer, a list of tool calls, or a full turn or response."""

ScriptPolicy: TypeAlias = Callable[
    [Sequence[Message], Sequence[ToolSpec]], "ScriptStep | Awaitable[ScriptStep]"
]
"""Decides each answer from the conversation and tools so far (sync or async)."""


ScriptedRequest = ModelRequest
"""What the model was sent in one request (the name predates :class:`ModelRequest`)."""


def tool_call(name: str, /, **arguments: Any) -> ToolCall:
    """A tool call for a script; ScriptedModel gives it a deterministic id."""
    return ToolCall(id="", name=name, arguments=arguments)


class ScriptedModel(ModelBase):
    """Answers requests from a fixed script or a policy function; never touches the network.

    Tool calls scripted without an id get ``call_1``, ``call_2``, ... in the order they are
    returned, so runs are reproducible.

    Args:
        script: the answers in order, or a policy ``(messages, tools) -> answer``.
        model_id: reported as ``model_id`` and ``ModelResponse.model``.
    """

    def __init__(
        self, script: Sequence[ScriptStep] | ScriptPolicy, *, model_id: str = "scripted"
    ) -> None:
        self.model_id = model_id
        self.requests: list[ScriptedRequest] = []
        self._policy: ScriptPolicy | None = None
        self._script: list[ScriptStep] = []
        if callable(script):
            self._policy = script
        else:
            self._script = list(script)
        self._next_call_id = 0

    @property
    def remaining(self) -> int:
        """How many scripted turns are left (0 for a policy)."""
        return max(0, len(self._script) - len(self.requests)) if self._policy is None else 0

    async def answer(self, request: ModelRequest) -> ModelResponse:
        """Record the request and return the next scripted answer."""
        index = len(self.requests)
        self.requests.append(request)
        if self._policy is not None:
            step = self._policy(request.messages, request.tools)
            if inspect.isawaitable(step):
                step = await step
        elif index < len(self._script):
            step = self._script[index]
        else:
            raise ModelResponseError(
                f"ScriptedModel ran out of script: request {index + 1} arrived but only "
                f"{len(self._script)} turn(s) were scripted. Either the loop asked the model "
                "more often than the test expected (did a tool fail, or the loop not stop?), "
                "or the script needs more turns.",
                provider="scripted",
            )
        return self._to_response(step)

    def _to_response(self, step: object) -> ModelResponse:
        if isinstance(step, str):
            return ModelResponse(text=step, model=self.model_id, stop_reason="stop")
        if isinstance(step, list):
            return self._response(None, step, Usage())
        if isinstance(step, ScriptedTurn):
            return self._response(step.text, step.tool_calls, step.usage)
        if isinstance(step, ModelResponse):
            return replace(step, tool_calls=self._with_ids(step.tool_calls))
        raise ModelResponseError(
            f"ScriptedModel got a script entry of type {type(step).__name__}; use a str "
            "(answer), a list of ToolCall, a ScriptedTurn or a ModelResponse.",
            provider="scripted",
        )

    def _response(self, text: str | None, calls: Sequence[Any], usage: Usage) -> ModelResponse:
        for call in calls:
            if not isinstance(call, ToolCall):
                raise ModelResponseError(
                    f"ScriptedModel tool calls must be ToolCall objects (see tool_call()), "
                    f"got {type(call).__name__}.",
                    provider="scripted",
                )
        with_ids = self._with_ids(calls)
        return ModelResponse(
            text=text,
            tool_calls=with_ids,
            usage=usage,
            model=self.model_id,
            stop_reason="tool_calls" if with_ids else "stop",
        )

    def _with_ids(self, calls: Sequence[ToolCall]) -> tuple[ToolCall, ...]:
        out = []
        for call in calls:
            self._next_call_id += 1
            out.append(call if call.id else replace(call, id=f"call_{self._next_call_id}"))
        return tuple(out)
