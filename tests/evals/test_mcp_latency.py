"""The MCP benchmark's latency figures over several rounds: each call judged by its median."""

from __future__ import annotations

from evals.mcp_latency import PageLatency, SnapshotCall, median_over_rounds


def _call(kind: str, ours: float, theirs: float) -> SnapshotCall:
    return SnapshotCall(kind, ours, theirs, ours + 100, theirs + 100)


def test_each_call_is_the_median_of_the_rounds_that_made_it():
    rounds = [
        [PageLatency("a.html", True, [_call("first", 10, 20), _call("after click", 5, 9)])],
        [PageLatency("a.html", False, [_call("first", 30, 10)])],  # its click failed
        [PageLatency("a.html", True, [_call("first", 20, 40), _call("after click", 7, 3)])],
    ]
    (page,) = median_over_rounds(rounds)
    assert page.page == "a.html" and page.ours_first
    first, click = page.calls
    assert (first.kind, first.ours, first.theirs) == ("first", 20, 20)
    assert (first.ours_with_action, first.theirs_with_action) == (120, 120)
    assert (click.kind, click.ours, click.theirs) == ("after click", 6, 6)


def test_one_round_is_itself():
    page = PageLatency("b.html", False, [_call("new page", 3, 4), _call("first", 1, 2)])
    (combined,) = median_over_rounds([[page]])
    calls = [(call.kind, call.ours, call.theirs) for call in combined.calls]
    assert calls == [("first", 1, 2), ("new page", 3, 4)]  # in the order of the kinds
