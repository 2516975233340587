"""What an eval run produces, as JSON-ready models: per task, per step, and per configuration.

One ``EvalRun`` holds the results of one or more configurations (a model replayed from
cassettes, recorded, run live, or the reference solutions run in process), each labelled with
what produced the traffic, so a reader can never take a plumbing check for a model score.
"""

from __future__ import annotations

import datetime as dt
import statistics
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = [
    "FORMAT_VERSION",
    "CallRecord",
    "ConfigSummary",
    "EvalConfigInfo",
    "EvalRun",
    "RunMode",
    "StepRecord",
    "TaskResult",
    "summarise",
]

FORMAT_VERSION = 1
RunMode = Literal["solutions", "replay", "record", "live", "miniwob"]


class CallRecord(BaseModel):
    """One tool call of a step and what it returned."""

    name: str
    arguments: dict[str, Any]
    result: str = ""
    is_error: bool = False


class StepRecord(BaseModel):
    """One planner step: the page, the calls, tokens and timings, and a screenshot after it."""

    number: int
    url: str
    title: str = ""
    text: str | None = None
    calls: list[CallRecord] = Field(default_factory=list)
    snapshot_tokens: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    model_latency_s: float = 0.0
    duration_s: float = 0.0
    screenshot: str | None = None
    """Path relative to the report directory."""


class TaskResult(BaseModel):
    """The outcome of one task under one configuration."""

    task_id: str
    config: str
    prompt: str
    start_url: str
    tags: list[str] = Field(default_factory=list)
    success: bool
    check: str
    """What the check looked at and what it found."""
    answer: str | None = None
    stop_reason: str
    steps: list[StepRecord] = Field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    tokens_estimated: bool = False
    """True when the backend reported no usage and tiktoken counted the tokens instead."""
    wall_s: float = 0.0
    started_s: float | None = None
    """Seconds from the start of the run to this task's start (None in older results)."""
    error: str | None = None
    final_screenshot: str | None = None
    provenance: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)

    @property
    def snapshot_tokens(self) -> list[int]:
        return [step.snapshot_tokens for step in self.steps]


class EvalConfigInfo(BaseModel):
    """One configuration of a run: which model, how its traffic was obtained, and what it means."""

    name: str
    """A short key, such as ``openai:reference-policy (replay)``."""
    model: str
    mode: RunMode
    label: str
    """One honest sentence: a plumbing check, a solvability check, or a model score."""
    provenance: list[str] = Field(default_factory=list)


class ConfigSummary(BaseModel):
    """Totals of one configuration."""

    config: str
    tasks: int
    passed: int
    success_rate: float
    steps: int
    mean_steps: float
    input_tokens: int
    output_tokens: int
    mean_snapshot_tokens: float
    elapsed_s: float
    """Wall-clock time from this configuration's first task's start to its last one's end: with
    ``-j N`` tasks overlap, so it is less than ``wall_s``."""
    wall_s: float
    """The tasks' own times, added up."""
    median_wall_s: float
    stop_reasons: dict[str, int]


class EvalRun(BaseModel):
    """A whole run: its configurations, every task result, and when it was made."""

    format: int = FORMAT_VERSION
    created: str = Field(
        default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    )
    configs: list[EvalConfigInfo] = Field(default_factory=list)
    results: list[TaskResult] = Field(default_factory=list)

    def for_config(self, name: str) -> list[TaskResult]:
        return [result for result in self.results if result.config == name]

    def summaries(self) -> list[ConfigSummary]:
        return [summarise(info.name, self.for_config(info.name)) for info in self.configs]

    @property
    def passed(self) -> bool:
        return bool(self.results) and all(result.success for result in self.results)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.model_dump_json(indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> EvalRun:
        return cls.model_validate_json(path.read_text(encoding="utf-8"))


def summarise(config: str, results: list[TaskResult]) -> ConfigSummary:
    """Totals and means over the results of one configuration."""
    passed = sum(result.success for result in results)
    steps = sum(len(result.steps) for result in results)
    snapshot = [tokens for result in results for tokens in result.snapshot_tokens]
    walls = [result.wall_s for result in results]
    spans = [(r.started_s, r.started_s + r.wall_s) for r in results if r.started_s is not None]
    if spans and len(spans) == len(results):
        elapsed = max(end for _, end in spans) - min(start for start, _ in spans)
    else:  # results written before start times were recorded: only the sum is known
        elapsed = sum(walls)
    reasons: dict[str, int] = {}
    for result in results:
        reasons[result.stop_reason] = reasons.get(result.stop_reason, 0) + 1
    return ConfigSummary(
        config=config,
        tasks=len(results),
        passed=passed,
        success_rate=passed / len(results) if results else 0.0,
        steps=steps,
        mean_steps=steps / len(results) if results else 0.0,
        input_tokens=sum(result.input_tokens for result in results),
        output_tokens=sum(result.output_tokens for result in results),
        mean_snapshot_tokens=statistics.fmean(snapshot) if snapshot else 0.0,
        elapsed_s=elapsed,
        wall_s=sum(walls),
        median_wall_s=statistics.median(walls) if walls else 0.0,
        stop_reasons=reasons,
    )
