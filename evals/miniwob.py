"""MiniWoB++ tasks with reference solvers that act only through our tools.

The task pages come from the ``miniwob`` wheel (``pip install --no-deps miniwob``), which is
never imported: its folder is found with ``importlib.util.find_spec`` and the pages are opened
from ``file://``. Each episode is started by hand, as the gym environment would, with a fixed
seed: ``Math.seedrandom(seed)``, a long ``core.EPISODE_MAX_TIME``, ``core.startEpisodeReal()``;
the start cover is removed and the reward display and click canvas hidden, so the snapshot shows
the task alone. The reward is read from ``WOB_DONE_GLOBAL`` / ``WOB_RAW_REWARD_GLOBAL``.

A solver reads the utterance and our snapshot, and acts with click, fill, type, press, scroll
and get_text, like the agent would. Each result says which kinds of refs the solver needed
beyond the named roles of a plain accessibility snapshot: inline ``clickable`` text, pointer
``generic`` elements, or fields without a name (found by the text beside them or by position).
"""

from __future__ import annotations

import asyncio
import importlib.util
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agent.errors import ConfigError
from agent.session import BrowserSession
from evals.browsers import BrowserPool
from evals.results import CallRecord, EvalConfigInfo, EvalRun, StepRecord, TaskResult
from tools import ToolBox, default_toolbox

__all__ = [
    "MINIWOB_ROLES",
    "MiniwobAgent",
    "MiniwobLine",
    "SolverError",
    "miniwob_dir",
    "run_miniwob",
    "start_episode",
]

MINIWOB_ROLES = ("click", "fill", "type", "press", "scroll", "get_text", "snapshot")
"""The only tools a solver may use."""
_PLAIN_ROLES = frozenset(
    {"button", "link", "textbox", "searchbox", "checkbox", "radio", "combobox", "listbox",
     "option", "menuitem", "tab", "switch", "slider", "spinbutton", "dialog", "table"}
)  # fmt: skip
_SETUP_JS = """(seed) => {
  core.EPISODE_MAX_TIME = 3600 * 1000;
  Math.seedrandom(String(seed));
  core.startEpisodeReal();
  core.clearTimer();
  if (core.cover_div) core.cover_div.remove();
  for (const id of ["reward-display", "click-canvas"]) {
    const el = document.getElementById(id);
    if (el) el.style.display = "none";
  }
  return core.getUtterance();
}"""
_REWARD_JS = "() => [WOB_DONE_GLOBAL, WOB_RAW_REWARD_GLOBAL, WOB_REWARD_REASON]"
_LINE = re.compile(
    r'^(?P<indent> *)@e(?P<ref>\d+) (?P<role>[\w-]+)(?: "(?P<name>(?:[^"\\]|\\.)*)")?'
    r"(?P<rest>.*)$"
)
_VALUE = re.compile(r'= "((?:[^"\\]|\\.)*)"')


def miniwob_dir() -> Path:
    """The folder of MiniWoB++ task pages in the installed ``miniwob`` wheel."""
    spec = importlib.util.find_spec("miniwob")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        pages = Path(location) / "html" / "miniwob"
        if pages.is_dir():
            return pages
    raise ConfigError(
        "The MiniWoB++ task pages are missing: install them with `pip install --no-deps "
        "miniwob` (only its HTML files are used)."
    )


class SolverError(Exception):
    """A solver could not find what it needed, or a tool call failed."""


@dataclass(frozen=True)
class MiniwobLine:
    """A line of our snapshot: a ref line (role, name, value) or a text line."""

    index: int
    depth: int
    text: str
    ref: str | None = None
    role: str = ""
    name: str = ""
    value: str | None = None


def parse_lines(snapshot: str) -> list[MiniwobLine]:
    lines = []
    for index, raw in enumerate(snapshot.splitlines()):
        depth = (len(raw) - len(raw.lstrip(" "))) // 2
        match = _LINE.match(raw)
        if match is None:
            lines.append(MiniwobLine(index, depth, raw.strip()))
            continue
        value = _VALUE.search(match.group("rest"))
        name = re.sub(r"\\(.)", r"\1", match.group("name") or "")
        if not name and match.group("rest").startswith(": "):
            name = match.group("rest")[2:].strip()  # a generic element named by its text
        lines.append(
            MiniwobLine(
                index,
                depth,
                raw.strip(),
                f"@e{match.group('ref')}",
                match.group("role"),
                name,
                re.sub(r"\\(.)", r"\1", value.group(1)) if value else None,
            )
        )
    return lines


@dataclass
class MiniwobAgent:
    """What a solver works with: the utterance, our snapshot, and our tools."""

    session: BrowserSession
    utterance: str
    toolbox: ToolBox = field(default_factory=default_toolbox)
    calls: list[CallRecord] = field(default_factory=list)
    needs: set[str] = field(default_factory=set)
    lines: list[MiniwobLine] = field(default_factory=list)

    async def call(self, tool: str, **arguments: object) -> str:
        if tool not in MINIWOB_ROLES:
            raise SolverError(f"solvers may not use {tool}")
        outcome = await self.toolbox.call(self.session, tool, dict(arguments))
        self.calls.append(CallRecord(name=tool, arguments=dict(arguments), result=outcome.content,
                                     is_error=outcome.is_error))  # fmt: skip
        if outcome.is_error:
            raise SolverError(f"{tool} failed: {outcome.content}")
        return outcome.content

    async def look(self) -> list[MiniwobLine]:
        """Take a fresh snapshot (the snapshot tool) and parse it."""
        self.lines = parse_lines(await self.call("snapshot"))
        return self.lines

    def refs(self, role: str | None = None) -> list[MiniwobLine]:
        return [line for line in self.lines if line.ref and (role is None or line.role == role)]

    def find(self, role: str, name: str, *, nth: int = 1, roles: Iterable[str] = ()) -> MiniwobLine:
        wanted = {role, *roles}
        found = [
            line for line in self.lines if line.ref and line.role in wanted and line.name == name
        ]
        if len(found) < nth:
            raise SolverError(f'no {role} "{name}" in the snapshot')
        return found[nth - 1]

    def field_after(self, label: str, role: str = "textbox") -> MiniwobLine:
        """The first ``role`` element after the text line that reads ``label``."""
        for line in self.lines:
            if line.ref is None and line.text.rstrip(":").strip() == label.rstrip(":"):
                after = [x for x in self.lines[line.index + 1 :] if x.ref and x.role == role]
                if after:
                    return after[0]
        raise SolverError(f"no {role} after the text {label!r}")

    def _note(self, line: MiniwobLine) -> None:
        if line.role not in _PLAIN_ROLES:
            self.needs.add(f"{line.role} refs")
        elif not line.name and line.role in ("textbox", "spinbutton", "radio", "checkbox"):
            self.needs.add("unnamed fields")

    async def click(self, line: MiniwobLine) -> str:
        self._note(line)
        return await self.call("click", ref=line.ref)

    async def fill(self, line: MiniwobLine, value: str) -> str:
        self._note(line)
        return await self.call("fill", ref=line.ref, value=value)

    async def click_named(self, role: str, name: str, *, nth: int = 1) -> str:
        await self.look()
        return await self.click(self.find(role, name, nth=nth))


Solver = Callable[[MiniwobAgent], Awaitable[None]]


async def start_episode(session: BrowserSession, task: str, seed: int) -> str:
    """Open a task page from file://, start a seeded episode, and return its utterance."""
    page = miniwob_dir() / f"{task}.html"
    if not page.is_file():
        raise ConfigError(f"MiniWoB++ has no task {task!r} ({page} is missing).")
    await session.goto(page.as_uri())
    return str(await session.page.evaluate(_SETUP_JS, seed))


async def _run_one(task: str, seed: int, solver: Solver, browsers: BrowserPool) -> TaskResult:
    started = time.perf_counter()
    async with browsers.session() as session:
        # Task pages are local files; nothing may reach the network.
        await session.browser.context.route(re.compile(r"^(https?|wss?)://"), lambda r: r.abort())
        utterance = await start_episode(session, task, seed)
        agent = MiniwobAgent(session, utterance)
        error = None
        try:
            await asyncio.wait_for(solver(agent), timeout=60)
        except Exception as exc:  # a failing solver is a result, not a crash of the run
            error = f"{type(exc).__name__}: {exc}"
        await asyncio.sleep(0.05)
        done, reward, reason = await session.page.evaluate(_REWARD_JS)
    success = bool(done) and float(reward) > 0
    check = f"episode {'done' if done else 'not done'}, raw reward {float(reward):g}"
    if reason:
        check += f" ({reason})"
    needs = sorted(agent.needs)
    return TaskResult(
        task_id=f"{task}#seed{seed}",
        config="miniwob (reference solvers)",
        prompt=utterance,
        start_url=f"miniwob/{task}.html",
        tags=["miniwob", task],
        success=success,
        check=check,
        stop_reason="done" if error is None else "solver_error",
        steps=[StepRecord(number=1, url=f"miniwob/{task}.html", calls=agent.calls)],
        wall_s=time.perf_counter() - started,
        error=error,
        extra={"task": task, "seed": seed, "needs": needs},
    )


async def run_miniwob(
    *,
    pattern: str | None = None,
    seeds: Sequence[int] | range = range(3),
    jobs: int = 2,
    on_result: Callable[[TaskResult], object] | None = None,
    on_total: Callable[[int], object] | None = None,
) -> EvalRun:
    """Run the reference solver of every MiniWoB++ task in the subset, for each seed."""
    from evals.miniwob_solvers import SOLVERS

    miniwob_dir()  # fail early, with the install hint
    names = [n for n in SOLVERS if _matches(n, pattern)]
    if not names:
        raise ConfigError(f"No MiniWoB++ task of the subset matches {pattern!r}.")
    pairs = [(name, seed) for name in names for seed in seeds]
    if on_total is not None:
        on_total(len(pairs))
    limit = asyncio.Semaphore(max(1, jobs))
    browsers = BrowserPool(jobs)
    results: dict[tuple[str, int], TaskResult] = {}

    async def one(name: str, seed: int) -> None:
        async with limit:
            result = await _run_one(name, seed, SOLVERS[name], browsers)
            results[(name, seed)] = result
            if on_result is not None:
                on_result(result)

    try:
        await asyncio.gather(*(one(name, seed) for name, seed in pairs))
    finally:
        await browsers.close()
    info = EvalConfigInfo(
        name="miniwob (reference solvers)",
        model="reference solvers (evals/miniwob_solvers.py)",
        mode="miniwob",
        label=(
            "Solvability check of the MiniWoB++ subset: hand-written reference solvers acting "
            "only through click, fill, type, press, scroll, get_text and snapshot; no model."
        ),
    )
    return EvalRun(configs=[info], results=[results[key] for key in pairs])


def _matches(name: str, pattern: str | None) -> bool:
    if not pattern:
        return True
    import fnmatch

    return any(fnmatch.fnmatch(name, p.strip()) for p in pattern.split(",") if p.strip())
