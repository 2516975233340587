"""Snapshot latency of the MCP benchmark, ours beside Playwright MCP's (issue 27).

Each ``browser_snapshot`` of the scripted session is timed on the client, from the request
sent to the result read (``evals.bench_mcp``), on both servers in the same run, one after the
other. Three kinds: the first snapshot of a page, the snapshot after each click (ours:
``mode="changes"``; theirs: the whole page, their only kind), and the first on the next page.
Per page a ratio per call, ours over theirs; the page's worst call is its worst ratio, and the
target holds when no page has one above 1.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

__all__ = ["SNAPSHOT_KINDS", "PageLatency", "print_latency_summary", "print_page_latency"]

SNAPSHOT_KINDS = {
    "browser_snapshot": "first",
    "browser_snapshot (after click)": "after click",
    "browser_snapshot (new page)": "new page",
}
"""The benchmark's step labels of snapshot calls, and the kind each is reported under."""


@dataclass
class PageLatency:
    """The snapshot calls of one page's session: (kind, our ms, their ms), in call order."""

    page: str
    ours_first: bool
    calls: list[tuple[str, float, float]] = field(default_factory=list)

    def of(self, kind: str) -> list[tuple[float, float]]:
        return [(ours, theirs) for k, ours, theirs in self.calls if k == kind]

    @property
    def worst(self) -> float:
        """The largest ours/theirs ratio of any snapshot call of this page."""
        return max((ours / max(theirs, 0.001) for _k, ours, theirs in self.calls), default=0.0)

    @property
    def totals(self) -> tuple[float, float]:
        return sum(c[1] for c in self.calls), sum(c[2] for c in self.calls)


def _pair(times: list[tuple[float, float]]) -> str:
    """``ours/theirs ms`` for one call, the sum of several, or ``-`` for none."""
    if not times:
        return "-"
    return f"{sum(t[0] for t in times):.0f}/{sum(t[1] for t in times):.0f}"


def print_page_latency(latency: PageLatency) -> None:
    """One line per page: every snapshot kind ours/theirs in ms, and the worst ratio."""
    ours, theirs = latency.totals
    side = "ours" if latency.ours_first else "theirs"
    print(
        f"  snapshot latency ours/theirs ms: first {_pair(latency.of('first'))}, after clicks "
        f"{_pair(latency.of('after click'))}, new page {_pair(latency.of('new page'))}; "
        f"all {ours:.0f}/{theirs:.0f} = {ours / max(theirs, 0.001):.2f}x, worst call "
        f"{latency.worst:.2f}x ({side} called first)"
    )


def _medians(pages: list[PageLatency], kind: str) -> str:
    calls = [call for page in pages for call in page.of(kind)]
    if not calls:
        return f"  {kind:12s} no calls"
    ours = statistics.median(c[0] for c in calls)
    theirs = statistics.median(c[1] for c in calls)
    ratio = statistics.median(c[0] / max(c[1], 0.001) for c in calls)
    return (
        f"  {kind:12s} {len(calls):3d} calls  median ours {ours:6.0f} ms  theirs {theirs:6.0f} ms"
        f"  median ratio {ratio:.2f}x  worst {max(c[0] / max(c[1], 0.001) for c in calls):.2f}x"
    )


def print_latency_summary(pages: list[PageLatency]) -> None:
    """The table of every page side by side, the medians per kind, and the verdict."""
    if not pages:
        return
    print("\nsnapshot latency (client wall time of browser_snapshot), ours/theirs in ms")
    print(
        f"  {'page':28s} {'first':>11s} {'after clicks':>13s} {'new page':>11s}"
        f" {'all':>7s} {'worst':>6s}"
    )
    for page in pages:
        ours, theirs = page.totals
        print(
            f"  {page.page:28s} {_pair(page.of('first')):>11s} "
            f"{_pair(page.of('after click')):>13s} {_pair(page.of('new page')):>11s} "
            f"{ours / max(theirs, 0.001):6.2f}x {page.worst:5.2f}x"
        )
    for kind in dict.fromkeys(SNAPSHOT_KINDS.values()):
        print(_medians(pages, kind))
    worst = max(pages, key=lambda page: page.worst)
    print(
        f"  per-page worst ratio: median {statistics.median(p.worst for p in pages):.2f}x, "
        f"max {worst.worst:.2f}x ({worst.page})"
    )
    every = all(page.worst <= 1.0 for page in pages)
    print(f"  ours <= theirs on every page: {'yes' if every else 'no'}")
