"""Browser box benchmark: a local Chromium unboxed, boxed, and boxed with its egress checkpoint, in
one run.

Run: ``python3 -m evals.bench_box [--rounds 12] [--calls 60]``. Each round starts one browser of
each kind, in an order that rotates from round to round, then has them take turns, call by call,
so that machine noise hits all alike. It measures:

* start -> ready: ``launch_browser`` and the first load of a small local page, in wall time and in
  the CPU time the browser's processes used for it (the steadier figure on a busy machine);
* a warm call: ``page.title()`` through the session's DevTools router, and a page reload (a new
  connection through the checkpoint when there is one), p50 over ``--calls`` per round;
* idle memory: PSS of the browser's whole process tree (bwrap included), a few seconds after
  loading the page.

Target (issue 22): start-up and warm calls of the box within 1.3x of unboxed. The page server's
address is declared public for the egress kind (the benchmark has no public network).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections import defaultdict

from agent import procfs
from agent.browser.addresses import treat_as_public_for_tests
from agent.browser.box import chromium_sandbox
from agent.browser.launch import BoxOptions, BrowserProcess, find_chromium, launch_browser
from evals.sites import serve_page

__all__ = ["main"]

_PAGE = b"""<!doctype html><html><head><meta charset="utf-8"><title>Box</title></head>
<body><h1>Box benchmark</h1><p>One small page.</p><button>Go</button></body></html>"""
KINDS: dict[str, BoxOptions | None] = {
    "unboxed": None,
    "boxed": BoxOptions(memory_mb=2048),
    "boxed+egress": BoxOptions(memory_mb=2048, egress=True),
}


async def _start(box: BoxOptions | None, page_url: str) -> tuple[BrowserProcess, dict[str, float]]:
    started = time.perf_counter()
    browser = await launch_browser(box=box)
    await browser.page.goto(page_url)
    elapsed = (time.perf_counter() - started) * 1000
    return browser, {"start": elapsed, "cpu": _tree_cpu_ms(browser.pid)}


async def _round(
    page_url: str, calls: int, order: list[str], results: dict[str, dict[str, list[float]]]
) -> None:
    """One browser of each kind, started in ``order``; then warm calls taking turns between them
    (one call each, again and again), and their idle memory."""
    browsers: dict[str, BrowserProcess] = {}
    try:
        for kind in order:
            browsers[kind], figures = await _start(KINDS[kind], page_url)
            for name, value in figures.items():
                results[kind][name].append(value)
        timings: dict[tuple[str, str], list[float]] = defaultdict(list)
        for call in range(calls):
            for kind in order:
                page = browsers[kind].page
                began = time.perf_counter()
                await page.title()
                timings[(kind, "title")].append((time.perf_counter() - began) * 1000)
                if call % 5 == 0:  # a reload: a new connection through the checkpoint, if any
                    began = time.perf_counter()
                    await page.reload()
                    timings[(kind, "reload")].append((time.perf_counter() - began) * 1000)
        for (kind, name), values in timings.items():
            results[kind][name].append(statistics.median(values))
        await asyncio.sleep(3)  # settle to idle
        for kind, browser in browsers.items():
            tree = procfs.tree(browser.pid)
            results[kind]["pss"].append(sum(procfs.rss_pss_kib(pid)[1] for pid in tree) / 1024)
    finally:
        for browser in browsers.values():
            await browser.close()


def _tree_cpu_ms(root: int) -> float:
    """CPU time used so far by ``root``, everything below it, and their children that ended."""
    used = 0.0
    for pid in procfs.tree(root):
        found = procfs.stat(pid)
        if found is not None:
            used += found.cpu_seconds(with_children=True)
    return used * 1000


async def _run(rounds: int, calls: int) -> None:
    await asyncio.to_thread(chromium_sandbox, find_chromium())  # the probe is not start-up
    results: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    kinds = list(KINDS)
    with serve_page(_PAGE) as base:
        port = int(base.rsplit(":", 1)[1])
        with treat_as_public_for_tests("127.0.0.1", port):
            for number in range(rounds):
                order = kinds[number % len(kinds) :] + kinds[: number % len(kinds)]
                await _round(f"{base}/box.html", calls, order, results)
    base_row = {name: statistics.median(v) for name, v in results["unboxed"].items()}
    print(f"\nbrowser box benchmark, {rounds} rounds, p50 over rounds")
    print(
        f"{'kind':<14}{'start->ready':>14}{'ratio':>8}{'its CPU':>10}{'ratio':>8}"
        f"{'title()':>10}{'ratio':>8}{'reload':>10}{'ratio':>8}{'idle PSS':>11}"
    )
    worst = 0.0
    for kind in KINDS:
        row = {name: statistics.median(v) for name, v in results[kind].items()}
        ratios = {name: row[name] / base_row[name] for name in ("start", "cpu", "title", "reload")}
        if kind != "unboxed":
            worst = max(worst, ratios["start"], ratios["title"])
        print(
            f"{kind:<14}{row['start']:>12.0f}ms{ratios['start']:>7.2f}x"
            f"{row['cpu']:>8.0f}ms{ratios['cpu']:>7.2f}x"
            f"{row['title']:>8.2f}ms{ratios['title']:>7.2f}x"
            f"{row['reload']:>8.1f}ms{ratios['reload']:>7.2f}x{row['pss']:>8.1f}MiB"
        )
    print(
        f"target: start-up and warm call within 1.3x of unboxed: {'met' if worst <= 1.3 else 'MISSED'}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m evals.bench_box")
    parser.add_argument("--rounds", type=int, default=12, help="browsers of each kind (default 12)")
    parser.add_argument("--calls", type=int, default=60, help="warm calls each (default 60)")
    args = parser.parse_args(argv)
    asyncio.run(_run(args.rounds, args.calls))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
