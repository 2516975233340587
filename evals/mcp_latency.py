"""Snapshot latency of the MCP benchmark, ours beside Playwright MCP's (issue 27).

Each ``browser_snapshot`` of the scripted session is timed on the client, from the request
sent to the result read (``evals.bench_mcp``), on both servers in the same run, one after the
other. Three kinds: the first snapshot of a page, the snapshot after each click (ours:
``mode="changes"``; theirs: the whole page, their only kind), and the first on the next page.
Per page a ratio per call, ours over theirs; the page's worst call is its worst ratio, and the
target holds when no page has one above 1.

The snapshot call alone does not compare the same work on both sides. Playwright MCP's
navigate and click wait for the page to settle (the load event, then half a second, longer
while requests run) and take a snapshot before they answer, so its ``browser_snapshot`` that
follows looks at a quiet page its browser has just snapshotted; ours answer once the page has
loaded (a click: once it is done) and look at the page while the client reads that answer, so
our snapshot call may wait for that first look. So each snapshot is also timed *with the
action before it* (the navigate or the click): how long the client waits, from asking for the
change, until it holds the changed page's snapshot. The two calls are made on one server and
then on the other, so no server's work between them runs during the other's calls; and the
client asks for the snapshot as soon as the action has answered, where a model would take a
moment to read the answer first (ours looks at the page meanwhile): the snapshot call alone
is ours at its slowest.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = [
    "SNAPSHOT_KINDS",
    "PageLatency",
    "SnapshotCall",
    "median_over_rounds",
    "print_latency_summary",
    "print_page_latency",
]

SNAPSHOT_KINDS = {
    "browser_snapshot": "first",
    "browser_snapshot (after click)": "after click",
    "browser_snapshot (new page)": "new page",
}
"""The benchmark's step labels of snapshot calls, and the kind each is reported under."""
_KINDS = tuple(dict.fromkeys(SNAPSHOT_KINDS.values()))


@dataclass(frozen=True)
class SnapshotCall:
    """One snapshot call on both servers (ms), alone and with the action before it."""

    kind: str
    ours: float
    theirs: float
    ours_with_action: float
    theirs_with_action: float


Measure = Callable[[SnapshotCall], tuple[float, float]]


def _alone(call: SnapshotCall) -> tuple[float, float]:
    return call.ours, call.theirs


def _with_action(call: SnapshotCall) -> tuple[float, float]:
    return call.ours_with_action, call.theirs_with_action


_MEASURES: tuple[tuple[str, str, Measure], ...] = (
    ("snapshot", "browser_snapshot alone", _alone),
    (
        "action + snapshot",
        "the action before it (navigate, click) + browser_snapshot",
        _with_action,
    ),
)
"""Each measure: its name on a page's line, its name over the summary, and what it takes."""


@dataclass
class PageLatency:
    """The snapshot calls of one page's session, in call order."""

    page: str
    ours_first: bool
    calls: list[SnapshotCall] = field(default_factory=list)

    def of(self, kind: str, measure: Measure) -> list[tuple[float, float]]:
        return [measure(call) for call in self.calls if call.kind == kind]

    def worst(self, measure: Measure) -> float:
        """The largest ours/theirs ratio of any snapshot call of this page."""
        return max((_ratio(*measure(call)) for call in self.calls), default=0.0)

    def totals(self, measure: Measure) -> tuple[float, float]:
        pairs = [measure(call) for call in self.calls]
        return sum(p[0] for p in pairs), sum(p[1] for p in pairs)


def median_over_rounds(rounds: list[list[PageLatency]]) -> list[PageLatency]:
    """Each page's calls, each timing the median over the rounds of that call (the n-th call
    of its kind on that page; a call some round lacks, a click that failed there, is the median
    of the rounds that have it). One round's calls move by tens of percent from run to run on
    this machine: a page's verdict from one sample is mostly chance."""
    combined = []
    for page_rounds in zip(*rounds, strict=True):
        calls = []
        for kind in _KINDS:
            of_kind = [[call for call in page.calls if call.kind == kind] for page in page_rounds]
            for index in range(max(len(made) for made in of_kind)):
                made = [calls_of[index] for calls_of in of_kind if index < len(calls_of)]
                calls.append(
                    SnapshotCall(
                        kind,
                        statistics.median(call.ours for call in made),
                        statistics.median(call.theirs for call in made),
                        statistics.median(call.ours_with_action for call in made),
                        statistics.median(call.theirs_with_action for call in made),
                    )
                )
        first = page_rounds[0]
        combined.append(PageLatency(first.page, first.ours_first, calls))
    return combined


def _ratio(ours: float, theirs: float) -> float:
    return ours / max(theirs, 0.001)


def _pair(times: list[tuple[float, float]]) -> str:
    """``ours/theirs ms`` for one call, the sum of several, or ``-`` for none."""
    if not times:
        return "-"
    return f"{sum(t[0] for t in times):.0f}/{sum(t[1] for t in times):.0f}"


def _pairs(latency: PageLatency, measure: Measure) -> list[str]:
    """``_pair`` of each kind of call, in ``_KINDS`` order."""
    return [_pair(latency.of(kind, measure)) for kind in _KINDS]


def print_page_latency(latency: PageLatency) -> None:
    """Per page, alone and with the action: every snapshot kind ours/theirs in ms, and the
    worst ratio."""
    side = "ours" if latency.ours_first else "theirs"
    for label, _, measure in _MEASURES:
        ours, theirs = latency.totals(measure)
        first, after_clicks, new_page = _pairs(latency, measure)
        print(
            f"  {label} latency ours/theirs ms: first {first}, after clicks {after_clicks}, "
            f"new page {new_page}; all {ours:.0f}/{theirs:.0f} = "
            f"{_ratio(ours, theirs):.2f}x, worst call {latency.worst(measure):.2f}x "
            f"({side} called first)"
        )


def _medians(pages: list[PageLatency], kind: str, measure: Measure) -> str:
    calls = [pair for page in pages for pair in page.of(kind, measure)]
    if not calls:
        return f"  {kind:12s} no calls"
    ours = statistics.median(c[0] for c in calls)
    theirs = statistics.median(c[1] for c in calls)
    ratio = statistics.median(_ratio(*c) for c in calls)
    return (
        f"  {kind:12s} {len(calls):3d} calls  median ours {ours:6.0f} ms  theirs {theirs:6.0f} ms"
        f"  median ratio {ratio:.2f}x  worst {max(_ratio(*c) for c in calls):.2f}x"
    )


def print_latency_summary(pages: list[PageLatency], rounds: int = 1) -> None:
    """For each measure, the table of every page side by side, the medians per kind, and the
    verdict; of ``rounds`` rounds (``median_over_rounds``) when more than one."""
    if not pages:
        return
    over = f", each call the median of {rounds} rounds" if rounds > 1 else ""
    for _, label, measure in _MEASURES:
        print(f"\nsnapshot latency: client wall time of {label}; ours/theirs in ms{over}")
        print(
            f"  {'page':28s} {'first':>11s} {'after clicks':>13s} {'new page':>11s}"
            f" {'all':>7s} {'worst':>6s}"
        )
        for page in pages:
            ours, theirs = page.totals(measure)
            first, after_clicks, new_page = _pairs(page, measure)
            print(
                f"  {page.page:28s} {first:>11s} {after_clicks:>13s} {new_page:>11s} "
                f"{_ratio(ours, theirs):6.2f}x {page.worst(measure):5.2f}x"
            )
        for kind in _KINDS:
            print(_medians(pages, kind, measure))
        worst = max(pages, key=lambda page: page.worst(measure))
        print(
            "  per-page worst ratio: median "
            f"{statistics.median(p.worst(measure) for p in pages):.2f}x, "
            f"max {worst.worst(measure):.2f}x ({worst.page})"
        )
        every = all(page.worst(measure) <= 1.0 for page in pages)
        print(f"  ours <= theirs on every page ({label}): {'yes' if every else 'no'}")
