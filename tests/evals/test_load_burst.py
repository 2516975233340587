"""The cold burst (``evals.load_burst``) against the real server with its default settings: a
small burst is answered, its browser starts are counted and a start's CPU is read from /proc."""

from __future__ import annotations

import tempfile

from evals.load_burst import run_cold_burst
from evals.sites import serve_page

_PAGE = b"<!doctype html><title>burst</title><p>one page for every scrape</p>"


def test_a_small_cold_burst_is_answered_and_its_starts_and_their_cpu_are_counted() -> None:
    with serve_page(_PAGE) as base, tempfile.TemporaryDirectory() as profiles:
        summary = run_cold_burst(4, f"{base}/burst.html", profiles).summary()
    assert summary["ok"] == 4 and summary["errors"] == 0, summary
    assert summary["p50_s"] is not None and summary["p50_s"] <= summary["p95_s"]
    # The two default spares were measured, idle, before the burst; two scrapes took them and
    # two waited for browsers started for them.
    assert len(summary["cpu_per_start_s"]) == 2 and all(c > 0 for c in summary["cpu_per_start_s"])
    assert summary["browser_starts_during_burst"] >= 2
    assert summary["cpu_during_burst_s"].get("chromium", 0) > 0
