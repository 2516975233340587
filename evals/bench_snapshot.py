"""Snapshot benchmark on real saved pages: latency and tokens of ours vs Playwright's raw call.

Run: ``python -m evals.bench_snapshot [--repeat N] [--limit N]``. Both are measured in the same
run, on the same page, alternating, so machine noise hits both alike. Targets (issue 2):
latency <= 1.05x the raw ``aria_snapshot(mode="ai")`` (issue 16; 1.15x before); full <= 0.5x its
tokens; interactive <= 0.2x, while every element Playwright gives an interactive role keeps a ref.

Latency is measured twice. *Unchanged*: the page is snapshotted again as it is (the case the
target was set on; our render and clickable scan of an unchanged page are reused). *Changed*: a
paragraph is added to the page before each call, ours and Playwright's alike, so nothing of ours
can be reused: every parse, render and scan is paid, as after an action that changed the page.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import time

from agent.browser.aria_tree import parse_aria_snapshot
from agent.browser.session import BrowserSession
from agent.browser.snapshot import INTERACTIVE_ROLES
from agent.browser.tokens import token_counter
from agent.errors import first_line
from evals.corpus import corpus_dir, serve_corpus

# Appended before each "changed" call, so the page differs from the one snapshotted last.
_CHANGE = "(tick) => (document.body || document.documentElement).insertAdjacentHTML('beforeend', `<p>${tick}</p>`)"


async def _measure(repeat: int, limit: int | None) -> int:
    counter = token_counter()
    pages = sorted(p.name for p in corpus_dir().glob("*.html"))[:limit]
    rows = []
    with serve_corpus() as base:
        session = await BrowserSession.start(navigation_timeout_s=60)
        # Saved pages reference third-party hosts; only loopback may load, so nothing can hang.
        await session.context.route(
            re.compile(r"^(?!http://127\.0\.0\.1)"), lambda route: route.abort()
        )
        try:
            for index, name in enumerate(pages, 1):
                try:
                    await session.goto(f"{base}/{name}")
                except Exception as exc:
                    print(f"  skip {name}: {first_line(exc)}", file=sys.stderr)
                    continue
                page = session.page
                try:
                    await page.aria_snapshot(mode="ai", timeout=60_000)  # warm both paths once
                    await session.snapshot()
                    raw_times, our_times, raw_changed, our_changed = [], [], [], []
                    for run in range(repeat):
                        start = time.perf_counter()
                        raw = await page.aria_snapshot(mode="ai", timeout=60_000)
                        raw_times.append(time.perf_counter() - start)
                        start = time.perf_counter()
                        full = await session.snapshot()
                        our_times.append(time.perf_counter() - start)
                        await page.evaluate(_CHANGE, f"raw {run}")
                        start = time.perf_counter()
                        await page.aria_snapshot(mode="ai", timeout=60_000)
                        raw_changed.append(time.perf_counter() - start)
                        await page.evaluate(_CHANGE, f"ours {run}")
                        start = time.perf_counter()
                        await session.snapshot()
                        our_changed.append(time.perf_counter() - start)
                    interactive = await session.snapshot(mode="interactive")
                except Exception as exc:
                    print(f"  skip {name}: {first_line(exc)}", file=sys.stderr)
                    continue
                raw_tokens = counter.count(raw)
                expected = sum(
                    1
                    for root in parse_aria_snapshot(raw)
                    for node in root.walk()
                    if node.role in INTERACTIVE_ROLES and node.pw_ref
                )
                kept = len(interactive.text.splitlines()) if interactive.text else 0
                row = (
                    name,
                    statistics.median(raw_times) * 1000,
                    statistics.median(our_times) * 1000,
                    raw_tokens,
                    full.tokens,
                    interactive.tokens,
                    expected,
                    kept,
                    statistics.median(raw_changed) * 1000,
                    statistics.median(our_changed) * 1000,
                )
                rows.append(row)
                print(
                    f"[{index}/{len(pages)}] {name:34s} raw {row[1]:7.1f} ms  ours {row[2]:7.1f} ms  "
                    f"changed: raw {row[8]:7.1f} ms  ours {row[9]:7.1f} ms  "
                    f"tokens raw {raw_tokens:6d} full {full.tokens:6d} interactive {interactive.tokens:6d}",
                    file=sys.stderr,
                )
        finally:
            await session.close()
    if not rows:
        print("no page could be measured")
        return 1
    latency = statistics.median(r[2] / r[1] for r in rows)
    changed = statistics.median(r[9] / r[8] for r in rows)
    full_ratio = statistics.median(r[4] / r[3] for r in rows)
    inter_ratio = statistics.median(r[5] / r[3] for r in rows)
    all_kept = all(r[7] >= r[6] for r in rows)
    print()
    print(
        f"snapshot benchmark: {len(rows)} corpus pages, {repeat} runs each, {counter.name} tokens"
    )
    print(f"  median raw aria_snapshot(mode='ai')  {statistics.median(r[1] for r in rows):7.1f} ms")
    print(f"  median ours (full)                  {statistics.median(r[2] for r in rows):7.1f} ms")
    print(
        f"  latency ratio ours/raw (median)     {latency:7.3f}x  target <= 1.05x  {'OK' if latency <= 1.05 else 'MISSED'}"
        "  (page unchanged)"
    )
    print(
        f"  latency ratio ours/raw (median)     {changed:7.3f}x  target <= 1.05x  {'OK' if changed <= 1.05 else 'MISSED'}"
        "  (page changed before each call: nothing reused)"
    )
    print(f"  median raw tokens                   {statistics.median(r[3] for r in rows):7.0f}")
    print(
        f"  full / raw tokens (median)          {full_ratio:7.3f}x  target <= 0.50x  {'OK' if full_ratio <= 0.5 else 'MISSED'}"
    )
    print(
        f"  interactive / raw tokens (median)   {inter_ratio:7.3f}x  target <= 0.20x  {'OK' if inter_ratio <= 0.2 else 'MISSED'}"
    )
    print(f"  every interactive-role element kept: {'yes' if all_kept else 'NO'}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per page (default 5)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N pages")
    args = parser.parse_args()
    return asyncio.run(_measure(args.repeat, args.limit))


if __name__ == "__main__":
    raise SystemExit(main())
