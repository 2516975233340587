"""MCP benchmark: one scripted session on real pages, against our MCP server and Playwright MCP.

Run::

    python3 -m evals.bench_mcp [--pages N | --all | --only PAGE...] [--rounds N] [--system-dns]

Both servers run over stdio in the same run (``agent mcp``, and npm ``@playwright/mcp`` pinned in
``evals/playwright-mcp``, headless on the same Chromium), on the same corpus pages served on
loopback, call by call in turn (an action and the snapshot after it as one turn). Per page the
script is what a model would do: navigate, take a snapshot, then ten actions on elements both
snapshots show (by role and name): hover, keys, type, two clicks, evaluate, wait, navigate to
the next corpus page and back; with a snapshot where a model would need one: after each click
(ours: ``mode="changes"``, theirs: their only kind) and on the new page. Every tool response's
text is counted in tokens, as the client receives it (Playwright MCP writes its action snapshots
to files and returns links to them; the links are what count). Targets (issue 13): our first snapshot <= 0.5x theirs; the whole session
<= 0.3x theirs (medians over pages); no element Playwright MCP's snapshot gives an interactive
role and a ref missing from ours, by role and name (ours read whole, in full and interactive
mode, on a separate session outside the counts; what the token cap left for later pages of the
session's own snapshot is reported apart). Every call is timed on the client, and the snapshot
calls' latency is printed side by side (``evals.mcp_latency``; issue 27: ours <= theirs on
every page); which server is called first alternates from page to page.

Both browsers find every outside host name "not found" at once (Chromium's
``--host-resolver-rules``; ``--system-dns`` to ask this machine's DNS instead): the corpus pages'
third-party resources cannot load here either way, but this machine's DNS drops some queries of
a burst and Chromium retries after 1 s and 5 s, which made a page's load time a lottery.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import re
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.types import CallToolResult, TextContent

from agent.browser import grammar
from agent.browser.aria_tree import parse_aria_snapshot
from agent.browser.snapshot import INTERACTIVE_ROLES
from agent.browser.tokens import TokenCounter, token_counter
from evals.corpus import corpus_dir, serve_corpus
from evals.mcp_latency import (
    SNAPSHOT_KINDS,
    PageLatency,
    SnapshotCall,
    median_over_rounds,
    print_latency_summary,
    print_page_latency,
)
from evals.mcp_servers import offline_chromium, our_server, playwright_mcp_server

__all__ = ["main"]

_CALL_TIMEOUT_S = 120.0
_BETWEEN_PAGES_S = 2.0
"""A pause after each page. The coverage check (ours only) scrapes with one of the server's warm
browsers, and the server starts another in the background; without the pause the next page's
first calls, ours first on every other page, were timed while that browser started."""
_YAML = re.compile(r"```yaml\n(.*?)\n```", re.S)
Element = tuple[str, str]  # (role, name)


@dataclass
class Reply:
    text: str
    is_error: bool


@dataclass
class Step:
    """One call of the script: the tokens of our response and theirs, and any error text."""

    label: str
    ours: int
    theirs: int
    our_error: str | None
    their_error: str | None
    our_ms: float
    their_ms: float


@dataclass
class PageRun:
    """One page's session: tokens of every response, ours and theirs, and the coverage check."""

    name: str
    ours_first: bool = True
    steps: list[Step] = field(default_factory=list)
    theirs_interactive: set[Element] = field(default_factory=set)
    missing: set[Element] = field(default_factory=set)
    missing_full: set[Element] = field(default_factory=set)
    missing_first_page: set[Element] = field(default_factory=set)

    @property
    def ours(self) -> int:
        return sum(step.ours for step in self.steps)

    @property
    def theirs(self) -> int:
        return sum(step.theirs for step in self.steps)

    @property
    def first_snapshot(self) -> Step:
        return next(step for step in self.steps if step.label == "browser_snapshot")

    @property
    def latency(self) -> PageLatency:
        """The wall times of this page's snapshot calls, ours and theirs."""
        calls = [
            SnapshotCall(
                SNAPSHOT_KINDS[step.label],
                step.our_ms,
                step.their_ms,
                step.our_ms + before.our_ms,
                step.their_ms + before.their_ms,
            )
            for before, step in zip(self.steps, self.steps[1:], strict=False)
            if step.label in SNAPSHOT_KINDS
        ]
        return PageLatency(self.name, self.ours_first, calls)


@dataclass(frozen=True)
class Call:
    """One call of the script: its label, the tool, and the arguments for ours and theirs."""

    label: str
    name: str
    ours: dict[str, Any]
    theirs: dict[str, Any]


class Pair:
    """Our server and theirs, each with an open client session; calls go to both in turn, ours
    first on odd pages and theirs first on even ones, so neither always finds the machine in
    the state the other left it. An action a snapshot follows goes with it (``both_in_turn``)."""

    def __init__(self, ours: ClientSession, theirs: ClientSession, counter: TokenCounter) -> None:
        self.ours, self.theirs, self.counter = ours, theirs, counter
        self.run: PageRun | None = None

    async def both(
        self, label: str, name: str, ours: dict[str, Any], theirs: dict[str, Any]
    ) -> tuple[Reply, Reply]:
        """Call ``name`` on both servers; record the tokens of both responses and the client's
        wall time of each call."""
        return (await self.both_in_turn(Call(label, name, ours, theirs)))[0]

    async def both_in_turn(self, *calls: Call) -> list[tuple[Reply, Reply]]:
        """Make ``calls`` on one server and then on the other, each recorded as ``both`` does.

        An action and the snapshot after it are made this way: what a server does between the
        two (ours looks at the page while the client reads the action's answer) must not run
        during the other server's calls, on the other's time and CPU.
        """
        assert self.run is not None
        mine: list[tuple[Reply, float]] = []
        other: list[tuple[Reply, float]] = []
        sides = [(self.ours, mine, True), (self.theirs, other, False)]
        for server, replies, is_ours in sides if self.run.ours_first else sides[::-1]:
            for call in calls:
                replies.append(
                    await _timed(server, call.name, call.ours if is_ours else call.theirs)
                )
        for call, (our_reply, our_ms), (their_reply, their_ms) in zip(
            calls, mine, other, strict=True
        ):
            self.run.steps.append(
                Step(
                    call.label,
                    self.counter.count(our_reply.text),
                    self.counter.count(their_reply.text),
                    _first_line(our_reply.text) if our_reply.is_error else None,
                    _first_line(their_reply.text) if their_reply.is_error else None,
                    our_ms,
                    their_ms,
                )
            )
        return [(ours, theirs) for (ours, _), (theirs, _) in zip(mine, other, strict=True)]


async def _timed(
    session: ClientSession, name: str, arguments: dict[str, Any]
) -> tuple[Reply, float]:
    """A call and its wall time on the client, in ms: from the request sent to the result read."""
    started = time.perf_counter()
    reply = await _call(session, name, arguments)
    return reply, (time.perf_counter() - started) * 1000


async def _call(session: ClientSession, name: str, arguments: dict[str, Any]) -> Reply:
    try:
        result = await session.call_tool(name, arguments, read_timeout_seconds=_CALL_TIMEOUT_S)
    except Exception as exc:  # a call that timed out still cost the model a turn
        return Reply(f"{type(exc).__name__}: {exc}", True)
    if not isinstance(result, CallToolResult):
        return Reply(f"unexpected result {type(result).__name__}", True)
    text = "\n".join(c.text for c in result.content if isinstance(c, TextContent))
    return Reply(text, bool(result.is_error))


def _first_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("###")]
    return (lines[0] if lines else text)[:90]


def _our_elements(snapshot: str) -> dict[Element, str]:
    """Our snapshot's elements with refs: (role, name) -> the first ref."""
    found: dict[Element, str] = {}
    for line in grammar.ref_lines(snapshot):
        if line.ref:
            found.setdefault((line.role, _norm(line.name)), line.ref)
    return found


def _their_elements(snapshot: str) -> dict[Element, str]:
    """Playwright MCP's snapshot's elements with refs: (role, name) -> the first ref."""
    found: dict[Element, str] = {}
    for block in _YAML.findall(snapshot):
        for root in parse_aria_snapshot(block):
            for node in root.walk():
                if node.pw_ref:
                    found.setdefault((node.role, _norm(node.name)), node.pw_ref)
    return found


def _norm(name: str) -> str:
    """A name as compared between the two snapshots: ours tidies white space in names
    (``"Review : X"`` reads ``"Review: X"``), which does not make it another element."""
    return "".join(name.split()).casefold()


class Targets:
    """Elements both snapshots show, by role and name, handed out in page order."""

    def __init__(self, ours: dict[Element, str], theirs: dict[Element, str]) -> None:
        self.common = [
            (key, ours[key], ref) for key, ref in theirs.items() if key in ours and key[1]
        ]
        self.used: set[Element] = set()

    def take(self, *roles: str) -> tuple[str, str] | None:
        """(our ref, their ref) of the next unused element with one of ``roles``, or None."""
        for key, mine, other in self.common:
            if key[0] in roles and key not in self.used:
                self.used.add(key)
                return mine, other
        return None


async def _hover_or_key(pair: Pair, targets: Targets, label: str) -> None:
    """Hover the next common link; a page without one gets an arrow key instead."""
    link = targets.take("link")
    if link:
        await pair.both(label, "browser_hover", {"target": link[0]}, {"target": link[1]})
    else:
        await pair.both(label, "browser_press_key", {"key": "ArrowDown"}, {"key": "ArrowDown"})


async def _click_and_look(pair: Pair, targets: Targets, number: str) -> None:
    """Click the next common button (or tab, checkbox); the click may have changed the page, so
    a model looks: ours shows just what changed, theirs the page. No button: hover a link."""
    button = targets.take("button", "tab", "checkbox", "switch")
    if button is None:
        await _hover_or_key(pair, targets, f"{number} browser_hover link")
        return
    await pair.both_in_turn(
        Call(
            f"{number} browser_click", "browser_click", {"target": button[0]}, {"target": button[1]}
        ),
        Call("browser_snapshot (after click)", "browser_snapshot", {"mode": "changes"}, {}),
    )


async def _session(pair: Pair, url: str, next_url: str) -> tuple[str, str]:
    """The scripted session on one page: the first navigate and snapshot, then 10 actions with
    a snapshot after each click and on the new page (2 to 4 snapshots in all); returns the
    first snapshots, ours and theirs."""
    nav = {"url": url}
    _, (mine, other) = await pair.both_in_turn(
        Call("browser_navigate", "browser_navigate", nav, nav),
        Call("browser_snapshot", "browser_snapshot", {}, {}),
    )
    firsts = mine.text, other.text
    targets = Targets(_our_elements(mine.text), _their_elements(other.text))
    await _hover_or_key(pair, targets, "1 browser_hover link")
    await pair.both(
        "2 browser_press_key", "browser_press_key", {"key": "PageDown"}, {"key": "PageDown"}
    )
    field_ = targets.take("searchbox", "textbox", "combobox")
    if field_:
        await pair.both(
            "3 browser_type",
            "browser_type",
            {"target": field_[0], "text": "browser agent"},
            {"target": field_[1], "text": "browser agent"},
        )
    else:
        await _hover_or_key(pair, targets, "3 browser_hover link")
    await pair.both("4 browser_press_key", "browser_press_key", {"key": "Tab"}, {"key": "Tab"})
    await _click_and_look(pair, targets, "5")
    title = {"function": "() => document.title"}
    await pair.both("6 browser_evaluate", "browser_evaluate", title, title)
    await _click_and_look(pair, targets, "7")
    heading = next((key[1] for key, _m, _o in targets.common if key[0] == "heading"), "")
    wait = {"text": heading[:60]} if heading else {"time": 0.2}
    await pair.both("8 browser_wait_for", "browser_wait_for", wait, wait)
    nav = {"url": next_url}
    await pair.both_in_turn(
        Call("9 browser_navigate", "browser_navigate", nav, nav),
        Call("browser_snapshot (new page)", "browser_snapshot", {}, {}),
    )
    await pair.both("10 browser_navigate_back", "browser_navigate_back", {}, {})
    return firsts


async def _coverage(ours: ClientSession, url: str, firsts: tuple[str, str], run: PageRun) -> None:
    """Which of their interactive elements our snapshots lack: our first page as the session
    saw it; our full snapshot, whole (uncapped); and what neither our full nor our interactive
    snapshot holds (full mode writes a plain table's header row as text, ``| Film | Year |``,
    and leaves out what an aria-hidden image holds; interactive mode lists both with refs).
    The whole snapshots are taken on a separate scraped session, outside the token counts."""
    theirs = {key for key in _their_elements(firsts[1]) if key[0] in INTERACTIVE_ROLES}
    run.theirs_interactive = theirs
    run.missing_first_page = theirs - set(_our_elements(firsts[0]))
    scraped = await _call(ours, "scrape", {"url": url, "formats": ["links"]})
    session_id = scraped.text.split('session_id="', 1)[1].split('"', 1)[0]
    whole = {"session_id": session_id, "max_tokens": 10**7}
    full = await _call(ours, "browser_snapshot", whole)
    interactive = await _call(ours, "browser_snapshot", {**whole, "mode": "interactive"})
    await _call(ours, "stop_interaction", {"session_id": session_id})
    run.missing_full = theirs - set(_our_elements(full.text))
    run.missing = run.missing_full - set(_our_elements(interactive.text))


@contextlib.asynccontextmanager
async def _connected(params: StdioServerParameters, log: Path) -> AsyncIterator[ClientSession]:
    with log.open("w") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                yield session


def _sample(pages: list[str], count: int | None) -> list[str]:
    """``count`` pages spread evenly over the sorted corpus (all of them for None)."""
    if count is None or count >= len(pages):
        return pages
    return [pages[round(i * (len(pages) - 1) / max(count - 1, 1))] for i in range(count)]


async def _measure(
    count: int | None, show_missing: int, only: list[str], system_dns: bool, rounds: int
) -> int:
    counter = token_counter()
    pages = sorted(p.name for p in corpus_dir().glob("*.html"))
    chosen = [f"{name.removesuffix('.html')}.html" for name in only] or _sample(pages, count)
    if unknown := sorted(set(chosen) - set(pages)):
        print(f"not in the corpus: {', '.join(unknown)}; see {corpus_dir()}", file=sys.stderr)
        return 2
    rounds_run: list[list[PageRun]] = []
    with tempfile.TemporaryDirectory(prefix="bench-mcp-") as scratch, serve_corpus() as base:
        work = Path(scratch)
        chromium = None
        if not system_dns:  # a folder of its own: a browser box shows the wrapper's folder
            (work / "bin").mkdir()
            chromium = offline_chromium(work / "bin")
        async with (
            _connected(our_server(chromium), work / "ours.log") as ours,
            _connected(
                playwright_mcp_server(work, chromium), work / "playwright-mcp.log"
            ) as theirs,
        ):
            pair = Pair(ours, theirs, counter)
            for round_number in range(rounds):
                if rounds > 1:
                    print(f"\n=== round {round_number + 1} of {rounds}")
                this_round: list[PageRun] = []
                for index, name in enumerate(chosen, 1):
                    # Who goes first alternates from page to page, and from round to round.
                    ours_first = (index + round_number) % 2 == 1
                    run = pair.run = PageRun(name, ours_first=ours_first)
                    next_name = pages[(pages.index(name) + 1) % len(pages)]
                    firsts = await _session(pair, f"{base}/{name}", f"{base}/{next_name}")
                    await _coverage(ours, f"{base}/{name}", firsts, run)
                    await asyncio.sleep(_BETWEEN_PAGES_S)
                    this_round.append(run)
                    _print_page(index, len(chosen), run, show_missing)
                rounds_run.append(this_round)
    latencies = [[run.latency for run in runs] for runs in rounds_run]
    print_latency_summary(median_over_rounds(latencies), rounds)
    return _print_summary(rounds_run[0], counter)  # tokens and coverage: the first round's


def _print_page(index: int, total: int, run: PageRun, show_missing: int) -> None:
    print(f"\n[{index}/{total}] {run.name}")
    print(
        f"  {'response (tokens, then ms)':34s} {'ours':>7s} {'theirs':>7s} {'ours':>7s} {'theirs':>7s}"
    )
    for step in run.steps:
        print(
            f"  {step.label:34s} {step.ours:7d} {step.theirs:7d} {step.our_ms:6.0f}ms "
            f"{step.their_ms:6.0f}ms"
        )
        if step.our_error:
            print(f"    ours failed: {step.our_error}")
        if step.their_error:
            print(f"    theirs failed: {step.their_error}")
    first = run.first_snapshot
    print(
        f"  {'session total':34s} {run.ours:7d} {run.theirs:7d}  ratio {run.ours / run.theirs:.3f}x"
        f"  (first snapshot {first.ours / first.theirs:.3f}x)"
    )
    print(
        f"  interactive elements of theirs: {len(run.theirs_interactive)}; missing from ours: "
        f"{len(run.missing)} (from our full mode: {len(run.missing_full)}; from our first "
        f"page: {len(run.missing_first_page)})"
    )
    for role, name in sorted(run.missing_full)[:show_missing]:
        where = "anywhere" if (role, name) in run.missing else "full mode only"
        print(f"    missing ({where}): {role} {name!r}")
    print_page_latency(run.latency)
    sys.stdout.flush()


def _print_summary(runs: list[PageRun], counter: TokenCounter) -> int:
    if not runs:
        print("no page could be measured")
        return 1
    snapshot = statistics.median(r.first_snapshot.ours / r.first_snapshot.theirs for r in runs)
    session = statistics.median(run.ours / run.theirs for run in runs)
    first_ours = sum(r.first_snapshot.ours for r in runs)
    first_theirs = sum(r.first_snapshot.theirs for r in runs)
    ours_total, theirs_total = sum(r.ours for r in runs), sum(r.theirs for r in runs)
    interactive = sum(len(r.theirs_interactive) for r in runs)
    missing = sum(len(r.missing) for r in runs)
    missing_full = sum(len(r.missing_full) for r in runs)
    missing_first = sum(len(r.missing_first_page) for r in runs)
    errors = [
        sum(bool(s.our_error) for r in runs for s in r.steps),
        sum(bool(s.their_error) for r in runs for s in r.steps),
    ]
    print()
    print(f"MCP benchmark: {len(runs)} corpus pages, {counter.name} tokens of every tool response")
    print(
        f"  first snapshot, ours/theirs: median {snapshot:.3f}x, all pages "
        f"{first_ours}/{first_theirs} = {first_ours / first_theirs:.3f}x   target <= 0.5x  "
        f"{'OK' if snapshot <= 0.5 else 'MISSED'}"
    )
    print(
        f"  whole session, ours/theirs:  median {session:.3f}x, all pages "
        f"{ours_total}/{theirs_total} = {ours_total / theirs_total:.3f}x   target <= 0.3x  "
        f"{'OK' if session <= 0.3 else 'MISSED'}"
    )
    print(
        f"  interactive elements of theirs missing from ours: {missing} of {interactive}   "
        f"target 0  {'OK' if missing == 0 else 'MISSED'}"
    )
    by_role = collections.Counter(role for r in runs for role, _name in r.missing_full)
    print(
        f"    not in our full mode: {missing_full} {dict(by_role)} (in interactive mode: "
        f"{missing_full - missing}); not on our first page (the token cap pages them): "
        f"{missing_first}"
    )
    print(f"  error responses: ours {errors[0]}, theirs {errors[1]}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m evals.bench_mcp", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--pages", type=int, default=12, help="corpus pages, spread evenly (default 12)"
    )
    parser.add_argument("--all", action="store_true", help="every corpus page (about an hour)")
    parser.add_argument(
        "--show-missing", type=int, default=5, help="missing elements listed per page (default 5)"
    )
    parser.add_argument(
        "--only", nargs="+", default=[], metavar="PAGE", help="just these corpus pages, by name"
    )
    parser.add_argument(
        "--system-dns",
        action="store_true",
        help="resolve outside host names through this machine's DNS, as the browsers would "
        "by themselves (default: every one 'not found' at once, the same for both servers)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run the pages this many times and judge each snapshot call's latency by its "
        "median (default 1; tokens and coverage are the first round's)",
    )
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    pages = None if args.all else args.pages
    return asyncio.run(_measure(pages, args.show_missing, args.only, args.system_dns, args.rounds))


if __name__ == "__main__":
    raise SystemExit(main())
