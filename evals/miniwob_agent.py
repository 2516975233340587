"""The MiniWoB++ harness: task pages, seeded episodes, and what a reference solver works with.

The task pages come from the ``miniwob`` wheel (``pip install --no-deps miniwob``), which is
never imported: its folder is found with ``importlib.util.find_spec`` and the pages are opened
from ``file://``. Each episode is started by hand, as the gym environment would, with a fixed
seed: ``Math.seedrandom(seed)``, a long ``core.EPISODE_MAX_TIME``, ``core.startEpisodeReal()``;
the start cover is removed and the reward display and click canvas hidden, so the snapshot shows
the task alone.

A solver (``evals/miniwob_solvers.py``) reads the utterance and our snapshot, read back with the
snapshot grammar (``agent.browser.grammar``), and acts with click, fill, type, press, scroll and
get_text through ``MiniwobAgent``, like the agent would.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from agent.browser.grammar import SnapshotLine, parse_snapshot
from agent.browser.session import BrowserSession
from agent.errors import ConfigError
from evals.errors import SolverError
from evals.results import CallRecord
from tools import ToolBox, ToolContext, default_toolbox

__all__ = [
    "MINIWOB_ROLES",
    "MiniwobAgent",
    "MiniwobLine",
    "Solver",
    "miniwob_dir",
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


MiniwobLine = SnapshotLine
"""A line of our snapshot as a solver reads it: a ref line (role, name, value) or a text line."""


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
        outcome = await self.toolbox.call(ToolContext(self.session), tool, dict(arguments))
        self.calls.append(CallRecord(name=tool, arguments=dict(arguments), result=outcome.content,
                                     is_error=outcome.is_error))  # fmt: skip
        if outcome.is_error:
            raise SolverError(f"{tool} failed: {outcome.content}")
        return outcome.content

    async def look(self) -> list[MiniwobLine]:
        """Take a fresh snapshot (the snapshot tool) and parse it."""
        self.lines = parse_snapshot(await self.call("snapshot"))
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
