"""Eval tasks: what to do on which page, how success is checked, and a reference solution.

A task is one YAML file in ``evals/tasks/`` (its id is the file name)::

    prompt: Sign in with username "ada" and password "lovelace-1815".
    start: suite/login.html          # a page under evals/sites, opened at SITE_ORIGIN
    max_steps: 6
    tags: [login, form]
    check:
      page: document.querySelector("h1").textContent.includes("Ada")   # JS, must be truthy
      answer: {contains: ["14 days"]}   # or equals / number / regex / all_of
    solution:                        # one entry per model turn
      - - fill: {textbox: Username, value: ada}        # several calls in one turn
        - fill: {textbox: Password, value: lovelace-1815}
      - click: {button: Sign in}
      - done: Signed in as Ada Lovelace.

In a solution call, a key that is an ARIA role names the element (``button: Sign in``); the
reference policy turns it into a ref from the latest snapshot at run time. ``nth: 2`` picks the
second match, ``within: {region: Blue mug}`` looks only inside a container, ``exact: false``
matches a part of the name. Every other key is passed to the tool as is.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agent.browser.snapshot import INTERACTIVE_ROLES
from agent.errors import ConfigError

__all__ = [
    "TARGET_ROLES",
    "TASKS_DIR",
    "AnswerCheck",
    "SolutionCall",
    "Target",
    "Task",
    "TaskCheck",
    "load_task",
    "load_tasks",
]

TASKS_DIR = Path(__file__).resolve().parent / "tasks"
# Roles that carry a ref in a snapshot: actionable elements and the containers worth scoping to.
TARGET_ROLES = frozenset(
    INTERACTIVE_ROLES
    | {"clickable", "dialog", "alertdialog", "form", "iframe", "table", "navigation"}
    | {"main", "region", "article"}
)
_TARGET_OPTIONS = frozenset({"nth", "within", "exact"})


@dataclass(frozen=True)
class Target:
    """An element named by role and accessible name, as a snapshot line shows it."""

    role: str
    name: str
    nth: int = 1
    exact: bool = True
    within: Target | None = None

    def describe(self) -> str:
        text = f'{self.role} "{self.name}"'
        if self.nth != 1:
            text += f" (match {self.nth})"
        if self.within is not None:
            text += f" inside {self.within.describe()}"
        return text


@dataclass(frozen=True)
class SolutionCall:
    """One tool call of a reference solution; ``target`` becomes the ``ref`` argument."""

    tool: str
    arguments: dict[str, Any] = field(default_factory=dict)
    target: Target | None = None


class AnswerCheck(BaseModel):
    """What the final answer must say, compared after normalisation (case, accents, spaces)."""

    model_config = ConfigDict(extra="forbid")

    equals: str | None = None
    contains: list[str] = Field(default_factory=list)
    number: float | None = None
    regex: str | None = None

    @field_validator("contains", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class TaskCheck(BaseModel):
    """How success is decided: a JS predicate on the final page and/or the answer."""

    model_config = ConfigDict(extra="forbid")

    page: str | None = Field(default=None, description="JS expression, truthy on success")
    answer: AnswerCheck | None = None


class Task(BaseModel):
    """One eval task."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    id: str
    prompt: str
    start: str
    max_steps: int = Field(default=10, ge=1, le=100)
    timeout_s: float = Field(default=120.0, gt=0)
    tags: list[str] = Field(default_factory=list)
    check: TaskCheck
    solution: list[list[SolutionCall]]
    source: Path | None = None

    def matches(self, pattern: str) -> bool:
        """Whether the id or a tag matches a glob (``login*``) or a comma-separated list."""
        globs = [p.strip() for p in pattern.split(",") if p.strip()]
        return any(
            fnmatch.fnmatch(self.id, glob) or any(fnmatch.fnmatch(t, glob) for t in self.tags)
            for glob in globs
        )


def load_tasks(directory: Path = TASKS_DIR, pattern: str | None = None) -> list[Task]:
    """Every task in ``directory`` (sorted by id), optionally only those matching ``pattern``.

    Raises:
        ConfigError: a task file is invalid, two prompts are the same, or nothing matches.
    """
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise ConfigError(f"No task files (*.yaml) in {directory}.")
    tasks = [load_task(path) for path in files]
    prompts: dict[str, str] = {}
    for task in tasks:
        if task.prompt in prompts:
            raise ConfigError(
                f"Tasks {prompts[task.prompt]} and {task.id} have the same prompt; the reference "
                "endpoint tells tasks apart by prompt, so make each prompt unique."
            )
        prompts[task.prompt] = task.id
    if pattern:
        tasks = [task for task in tasks if task.matches(pattern)]
        if not tasks:
            raise ConfigError(
                f"No task id or tag matches {pattern!r}; ids look like "
                f"{', '.join(sorted(prompts.values())[:4])}, ..."
            )
    return tasks


def load_task(path: Path) -> Task:
    """Read and validate one task file."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"Task file {path} is unreadable or not YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"Task file {path} must hold a mapping (prompt, start, check, ...).")
    try:
        solution = [_parse_turn(turn) for turn in raw.pop("solution", None) or []]
        task = Task(id=path.stem, source=path, solution=solution, **raw)
    except (ValidationError, ValueError, TypeError) as exc:
        raise ConfigError(f"Task file {path} is invalid: {exc}") from exc
    _validate_solution(task)
    return task


def _parse_turn(turn: Any) -> list[SolutionCall]:
    calls = turn if isinstance(turn, list) else [turn]
    return [_parse_call(call) for call in calls]


def _parse_call(call: Any) -> SolutionCall:
    if not isinstance(call, dict) or len(call) != 1:
        raise ValueError(f"a solution call is one mapping like {{click: {{button: OK}}}}: {call!r}")
    ((tool, spec),) = call.items()
    if tool == "done":
        answer = spec.get("answer") if isinstance(spec, dict) else spec
        return SolutionCall("done", {"answer": str(answer)})
    if spec is None:
        return SolutionCall(str(tool))
    if not isinstance(spec, dict):
        raise ValueError(f"arguments of {tool} must be a mapping, got {spec!r}")
    arguments = dict(spec)
    target = _pop_target(arguments)
    return SolutionCall(str(tool), arguments, target)


def _pop_target(arguments: dict[str, Any]) -> Target | None:
    roles = [key for key in arguments if key in TARGET_ROLES]
    if not roles:
        stray = sorted(set(arguments) & _TARGET_OPTIONS)
        if stray:
            raise ValueError(f"{stray} given without an element role such as button: ...")
        return None
    if len(roles) > 1:
        raise ValueError(f"a call names one element, got roles {roles}")
    role = roles[0]
    name = arguments.pop(role)
    nth = int(arguments.pop("nth", 1))
    exact = bool(arguments.pop("exact", True))
    within_spec = arguments.pop("within", None)
    within = None
    if within_spec is not None:
        if not isinstance(within_spec, dict):
            raise ValueError(f"within must be a mapping like {{region: Cart}}: {within_spec!r}")
        within = _pop_target(dict(within_spec))
    return Target(role, str(name), nth=nth, exact=exact, within=within)


def _validate_solution(task: Task) -> None:
    from tools import default_toolbox

    toolbox = default_toolbox()
    if not task.solution:
        raise ConfigError(f"Task {task.id} has no reference solution.")
    last = task.solution[-1]
    if last[-1].tool != "done":
        raise ConfigError(f"Task {task.id}: the reference solution must end with done.")
    for number, turn in enumerate(task.solution, 1):
        for call in turn:
            if call.tool == "done":
                continue
            tool = toolbox.tools.get(call.tool)
            if tool is None:
                known = ", ".join(sorted(toolbox.tools))
                raise ConfigError(
                    f"Task {task.id}, solution turn {number}: no tool {call.tool!r} ({known})."
                )
            arguments = dict(call.arguments)
            if call.target is not None:
                arguments["ref"] = "@e1"
            try:
                tool.arguments.model_validate(arguments)
            except ValidationError as exc:
                raise ConfigError(
                    f"Task {task.id}, solution turn {number}: bad arguments for {call.tool}: {exc}"
                ) from exc
