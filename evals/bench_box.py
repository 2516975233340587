"""Browser box benchmark: a local Chromium unboxed, boxed, and boxed with its egress checkpoint, in
one run.

Run: ``python3 -m evals.bench_box [--rounds 8] [--calls 30]``. Each round starts one browser of
each kind in turn (so machine noise hits all alike) and measures:

* start -> ready: ``launch_browser`` and the first load of a small local page;
* a warm call: ``page.title()`` through the session's DevTools router, and a page reload (a new
  connection through the checkpoint when there is one), p50 over ``--calls``;
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

from agent.browser.addresses import treat_as_public_for_tests
from agent.browser.box import chromium_sandbox
from agent.browser.launch import BoxOptions, BrowserProcess, find_chromium, launch_browser
from evals.proc_memory import descendants, memory_kb
from evals.sites import serve_page

__all__ = ["main"]

_PAGE = b"""<!doctype html><html><head><meta charset="utf-8"><title>Box</title></head>
<body><h1>Box benchmark</h1><p>One small page.</p><button>Go</button></body></html>"""
KINDS: dict[str, BoxOptions | None] = {
    "unboxed": None,
    "boxed": BoxOptions(memory_mb=2048),
    "boxed+egress": BoxOptions(memory_mb=2048, egress=True),
}


async def _one(box: BoxOptions | None, page_url: str, calls: int) -> dict[str, float]:
    started = time.perf_counter()
    browser: BrowserProcess = await launch_browser(box=box)
    try:
        await browser.page.goto(page_url)
        figures = {"start": (time.perf_counter() - started) * 1000}
        titles, reloads = [], []
        for _ in range(calls):
            began = time.perf_counter()
            await browser.page.title()
            titles.append((time.perf_counter() - began) * 1000)
        for _ in range(max(3, calls // 5)):
            began = time.perf_counter()
            await browser.page.reload()
            reloads.append((time.perf_counter() - began) * 1000)
        figures["title"] = statistics.median(titles)
        figures["reload"] = statistics.median(reloads)
        await asyncio.sleep(3)  # settle to idle
        tree = [browser.pid, *descendants(browser.pid)]
        figures["pss"] = sum(memory_kb(pid)[1] for pid in tree) / 1024
        return figures
    finally:
        await browser.close()


async def _run(rounds: int, calls: int) -> None:
    await asyncio.to_thread(chromium_sandbox, find_chromium())  # the probe is not start-up
    results: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    with serve_page(_PAGE) as base:
        port = int(base.rsplit(":", 1)[1])
        with treat_as_public_for_tests("127.0.0.1", port):
            for _ in range(rounds):
                for kind, box in KINDS.items():
                    for name, value in (await _one(box, f"{base}/box.html", calls)).items():
                        results[kind][name].append(value)
    base_row = {name: statistics.median(v) for name, v in results["unboxed"].items()}
    print(f"\nbrowser box benchmark, {rounds} rounds, p50 over rounds")
    print(
        f"{'kind':<14}{'start->ready':>14}{'ratio':>8}{'title()':>10}{'ratio':>8}"
        f"{'reload':>10}{'ratio':>8}{'idle PSS':>11}"
    )
    worst = 0.0
    for kind in KINDS:
        row = {name: statistics.median(v) for name, v in results[kind].items()}
        ratios = {name: row[name] / base_row[name] for name in ("start", "title", "reload")}
        if kind != "unboxed":
            worst = max(worst, ratios["start"], ratios["title"])
        print(
            f"{kind:<14}{row['start']:>12.0f}ms{ratios['start']:>7.2f}x"
            f"{row['title']:>8.2f}ms{ratios['title']:>7.2f}x"
            f"{row['reload']:>8.1f}ms{ratios['reload']:>7.2f}x{row['pss']:>8.1f}MiB"
        )
    print(
        f"target: start-up and warm call within 1.3x of unboxed: {'met' if worst <= 1.3 else 'MISSED'}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m evals.bench_box")
    parser.add_argument("--rounds", type=int, default=8, help="browsers of each kind (default 8)")
    parser.add_argument("--calls", type=int, default=30, help="warm calls each (default 30)")
    args = parser.parse_args(argv)
    asyncio.run(_run(args.rounds, args.calls))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
