"""Comparing two eval runs (``agent eval --compare old.json new.json``) task by task."""

from __future__ import annotations

from dataclasses import dataclass, field

from evals.results import EvalRun, TaskResult, summarise

__all__ = ["Comparison", "TaskChange", "compare_runs"]


@dataclass(frozen=True)
class TaskChange:
    """One task in both runs (or in one of them)."""

    key: str
    old: TaskResult | None
    new: TaskResult | None

    @property
    def verdict(self) -> str:
        if self.old is None:
            return "new task"
        if self.new is None:
            return "removed"
        if self.old.success and not self.new.success:
            return "REGRESSED"
        if not self.old.success and self.new.success:
            return "fixed"
        return "passed" if self.new.success else "still failing"

    @property
    def steps_delta(self) -> int | None:
        if self.old is None or self.new is None:
            return None
        return len(self.new.steps) - len(self.old.steps)

    @property
    def tokens_delta(self) -> int | None:
        if self.old is None or self.new is None:
            return None
        return (self.new.input_tokens + self.new.output_tokens) - (
            self.old.input_tokens + self.old.output_tokens
        )


@dataclass
class Comparison:
    """Per-task changes and the totals of both runs."""

    old_label: str
    new_label: str
    changes: list[TaskChange] = field(default_factory=list)
    old_passed: int = 0
    new_passed: int = 0
    old_total: int = 0
    new_total: int = 0
    old_tokens: int = 0
    new_tokens: int = 0

    @property
    def regressions(self) -> list[TaskChange]:
        return [change for change in self.changes if change.verdict == "REGRESSED"]

    @property
    def fixes(self) -> list[TaskChange]:
        return [change for change in self.changes if change.verdict == "fixed"]

    def render(self) -> str:
        """A plain-text table of the comparison."""
        lines = [
            f"old: {self.old_label}",
            f"new: {self.new_label}",
            "",
            f"{'task':44} {'old':>5} {'new':>5} {'steps':>6} {'tokens':>8}  verdict",
        ]
        for change in self.changes:
            old = _mark(change.old)
            new = _mark(change.new)
            steps = "" if change.steps_delta is None else f"{change.steps_delta:+d}"
            tokens = "" if change.tokens_delta is None else f"{change.tokens_delta:+d}"
            lines.append(
                f"{change.key:44} {old:>5} {new:>5} {steps:>6} {tokens:>8}  {change.verdict}"
            )
        lines += [
            "",
            f"passed: {self.old_passed}/{self.old_total} -> {self.new_passed}/{self.new_total}; "
            f"{len(self.fixes)} fixed, {len(self.regressions)} regressed; "
            f"tokens {self.old_tokens} -> {self.new_tokens} "
            f"({self.new_tokens - self.old_tokens:+d})",
        ]
        return "\n".join(lines)


def _mark(result: TaskResult | None) -> str:
    if result is None:
        return "-"
    return "pass" if result.success else "FAIL"


def _keyed(run: EvalRun, by_provider: bool) -> dict[str, TaskResult]:
    keyed: dict[str, TaskResult] = {}
    for result in run.results:
        config = next((c for c in run.configs if c.name == result.config), None)
        provider = (config.model if config else result.config).partition(":")[0]
        keyed[f"{provider}/{result.task_id}" if by_provider else result.task_id] = result
    return keyed


def compare_runs(old: EvalRun, new: EvalRun) -> Comparison:
    """Match the runs' tasks (by task id, and by provider when a run has several) and compare."""
    by_provider = len(old.configs) > 1 or len(new.configs) > 1
    old_keyed, new_keyed = _keyed(old, by_provider), _keyed(new, by_provider)
    keys = sorted(set(old_keyed) | set(new_keyed))
    comparison = Comparison(
        old_label=", ".join(f"{c.name} [{c.label}]" for c in old.configs) + f" @ {old.created}",
        new_label=", ".join(f"{c.name} [{c.label}]" for c in new.configs) + f" @ {new.created}",
        changes=[TaskChange(key, old_keyed.get(key), new_keyed.get(key)) for key in keys],
    )
    old_sum = summarise("old", list(old_keyed.values()))
    new_sum = summarise("new", list(new_keyed.values()))
    comparison.old_passed, comparison.old_total = old_sum.passed, old_sum.tasks
    comparison.new_passed, comparison.new_total = new_sum.passed, new_sum.tasks
    comparison.old_tokens = old_sum.input_tokens + old_sum.output_tokens
    comparison.new_tokens = new_sum.input_tokens + new_sum.output_tokens
    return comparison
