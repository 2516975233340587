"""What a prompt interaction returns: the answer, the snapshot behind it, and every step taken."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from agent.messages import ToolCall, ToolResult, Usage
from agent.recipes.model import Recipe

__all__ = ["CacheReport", "CacheStatus", "InteractionResult", "Step", "StopReason"]

StopReason: TypeAlias = Literal["done", "answer", "max_steps", "model_error", "timeout"]
"""Why a run ended: ``done`` (the done tool), ``answer`` (plain text), or a limit or failure."""


CacheStatus: TypeAlias = Literal["off", "miss", "hit", "healed"]
"""What the prompt cache did: not asked, nothing stored, replayed, or replayed and repaired."""


@dataclass(frozen=True)
class CacheReport:
    """The prompt cache's part in a run: its status, the model calls made, the recipe's steps."""

    status: CacheStatus = "off"
    model_calls: int = 0
    steps: int = 0
    stopped_at: int | None = None  # the recipe step a replay stopped at, if it did
    reason: str | None = None  # why it stopped there


@dataclass(frozen=True)
class Step:
    """One planner step: the page the model saw, what it asked for, what happened, and timings.

    ``duration_s`` runs from the snapshot to the end of the last tool call, so
    ``overhead_s`` (everything but the model) is what the loop itself costs.
    """

    number: int
    url: str
    title: str
    snapshot_tokens: int
    text: str | None
    tool_calls: tuple[ToolCall, ...]
    results: tuple[ToolResult, ...]
    usage: Usage
    model_latency_s: float
    tool_latency_s: float
    snapshot_latency_s: float
    duration_s: float

    @property
    def overhead_s(self) -> float:
        """Seconds the step took apart from waiting for the model."""
        return max(self.duration_s - self.model_latency_s, 0.0)


@dataclass(frozen=True)
class InteractionResult:
    """The outcome of one prompt.

    Attributes:
        output: the model's answer, or a message saying why there is none.
        result: the raw text of the snapshot the model saw last.
        steps: every step, in order.
        usage: tokens of every model request, summed.
        stop_reason: why the run ended.
        success: the model gave an answer (``done`` or ``answer``).
        error: what went wrong when there is no answer, else None.
        duration_s: wall-clock seconds of the whole run.
        recipe: what a successful run did, each target described (see ``agent.recipes``);
            None when the run failed.
        script: the recipe as a bash script of ``agent-browser`` commands; None with no recipe.
        cache: what the prompt cache did; status ``off`` when it was not asked.
    """

    output: str
    result: str
    stop_reason: StopReason
    steps: list[Step] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    error: str | None = None
    duration_s: float = 0.0
    recipe: Recipe | None = None
    script: str | None = None
    cache: CacheReport = field(default_factory=CacheReport)
    success: bool = field(init=False)

    def __post_init__(self) -> None:
        # A field rather than a property, so dataclasses.asdict() and JSON carry it.
        object.__setattr__(self, "success", self.stop_reason in ("done", "answer"))
