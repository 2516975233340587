"""A cold burst: many scrapes at once against a server with its default settings.

Run::

    python -m evals.load --cold-burst                # 30 scrapes at once, once
    python -m evals.load --cold-burst --scrapes 30 --runs 3

The server (``create_app`` under uvicorn, a scripted model) starts in a child process with every
setting at its default, so with its default reserve of spare browsers (``AGENT_WARM_BROWSERS``,
2): nearly every scrape of the burst waits for a browser to start. Once the reserve is full and
the machine has settled, ``--scrapes`` scrapes of a small loopback page go out at once. Printed:
latency p50, p95 and max of the scrapes answered 200, errors by HTTP status, every 429's
``Retry-After``, browsers started during the burst, wall time, and CPU.

CPU is read from /proc, user + system time of whole process trees: a browser is every process
under one child of the server that runs Chromium (its bubblewrap box, Chromium, its zygotes,
renderers and utilities). *CPU per start* is what each spare browser's tree has used once
started and idle for a few seconds, before the burst: Chromium's start, its first blank page, and
the box around it, with nothing else in the way. The burst's own CPU is the server's whole tree's
before and after, by kind (server, chromium, Playwright's driver, other), over the scrapes.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from agent import procfs
from evals.load_server import TITLE, ServerProcess
from evals.proc_memory import cpu_by_kind
from evals.sites import serve_page

__all__ = ["BurstReport", "browser_trees_cpu", "burst_main", "run_cold_burst"]

_PAGE = f"""<!doctype html><html><head><meta charset="utf-8"><title>{TITLE}</title></head>
<body><main><h1>{TITLE}</h1><p>Each scrape of the burst loads this page.</p>
<form><label>Name <input name="name"></label><button type="button">Send</button></form>
</main></body></html>""".encode()
_SPARES = 2  # AGENT_WARM_BROWSERS' default, which this run keeps


@dataclass
class BurstReport:
    """One cold burst; seconds throughout."""

    scrapes: int
    latencies: list[float] = field(default_factory=list)
    statuses: collections.Counter[str] = field(default_factory=collections.Counter)
    retry_after: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    cpu_per_start: list[float] = field(default_factory=list)
    browsers_before: int = 0
    browsers_after: int = 0
    cpu: dict[str, float] = field(default_factory=dict)
    cpu_per_browser: list[float] = field(default_factory=list)
    load_before: float = 0.0

    def summary(self) -> dict[str, Any]:
        ok = sorted(self.latencies)
        errors = {status: n for status, n in self.statuses.items() if status != "200"}
        total_cpu = sum(self.cpu.values())
        return {
            "scrapes": self.scrapes,
            "ok": len(ok),
            "p50_s": round(_percentile(ok, 0.50), 2) if ok else None,
            "p95_s": round(_percentile(ok, 0.95), 2) if ok else None,
            "max_s": round(ok[-1], 2) if ok else None,
            "errors": sum(errors.values()),
            "errors_by_status": errors,
            "retry_after_429": self.retry_after,
            "browser_starts_during_burst": self.browsers_after - self.browsers_before,
            "wall_s": round(self.wall_s, 2),
            "cpu_per_start_s": [round(c, 2) for c in self.cpu_per_start],
            "cpu_during_burst_s": {k: round(v, 2) for k, v in sorted(self.cpu.items())},
            "cpu_per_scrape_s": round(total_cpu / self.scrapes, 2) if self.scrapes else 0,
            # The share of the machine the burst had: on a shared machine, the latencies of two
            # runs compare only alongside it.
            "cores_used": round(total_cpu / self.wall_s, 2) if self.wall_s else 0,
            "browser_cpu_p50_s": round(statistics.median(self.cpu_per_browser), 2)
            if self.cpu_per_browser
            else None,
            "load_average_before": round(self.load_before, 1),
        }


def _percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _proc_rows() -> dict[int, tuple[int, str, float]]:
    """pid -> (parent pid, name, CPU seconds so far) of every live process."""
    return {
        pid: (stat.ppid, stat.name, stat.cpu_seconds()) for pid, stat in procfs.processes().items()
    }


def browser_trees_cpu(server_pid: int) -> dict[int, float]:
    """CPU seconds of each browser under the server: child pid -> its whole tree's CPU, for
    every child of the server whose tree runs Chromium (a box's bwrap, or Chromium itself)."""
    rows = _proc_rows()
    children: dict[int, list[int]] = collections.defaultdict(list)
    for pid, (parent, _, _) in rows.items():
        children[parent].append(pid)
    trees: dict[int, float] = {}
    for top in children.get(server_pid, []):
        stack, names, cpu = [top], set(), 0.0
        while stack:
            pid = stack.pop()
            _, name, used = rows[pid]
            names.add(name)
            cpu += used
            stack.extend(children.get(pid, []))
        if "chromium" in names:
            trees[top] = cpu
    return trees


async def _scrape(client: httpx.AsyncClient, page_url: str, report: BurstReport) -> str | None:
    started = time.perf_counter()
    try:
        response = await client.post("/v2/scrape", json={"url": page_url})
    except httpx.HTTPError as exc:
        report.statuses[type(exc).__name__] += 1
        return None
    report.statuses[str(response.status_code)] += 1
    if response.status_code == 429:
        report.retry_after.append(response.headers.get("retry-after", "(none)"))
    if response.status_code != 200:
        return None
    report.latencies.append(time.perf_counter() - started)
    return str(response.json()["data"]["metadata"]["scrapeId"])


async def _burst(url: str, page_url: str, report: BurstReport, server_pid: int) -> None:
    before = cpu_by_kind(server_pid)
    limits = httpx.Limits(max_connections=report.scrapes + 10, max_keepalive_connections=None)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=300) as client:
        started = time.perf_counter()
        ids = await asyncio.gather(
            *(_scrape(client, page_url, report) for _ in range(report.scrapes))
        )
        report.wall_s = time.perf_counter() - started
        # Read before the stops below end the browsers, taking their CPU time with them.
        after = cpu_by_kind(server_pid)
        report.cpu = {kind: after[kind] - before.get(kind, 0.0) for kind in after}
        trees = browser_trees_cpu(server_pid)
        report.browsers_after = len(trees)
        report.cpu_per_browser = sorted(trees.values())
        gate = asyncio.Semaphore(10)

        async def stop(scrape_id: str) -> None:
            async with gate:
                await client.delete(f"/v2/scrape/{scrape_id}/interact")

        await asyncio.gather(*(stop(i) for i in ids if i))


def _wait_for_spares(url: str, wanted: int, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while int(httpx.get(f"{url}/health", timeout=10).json().get("browsersReady", 0)) < wanted:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server did not start {wanted} spare browsers in {timeout_s} s")
        time.sleep(0.5)


def run_cold_burst(scrapes: int, page_url: str, profiles: str) -> BurstReport:
    """One cold burst of ``scrapes`` against a fresh server with default settings."""
    report = BurstReport(scrapes)
    server = ServerProcess(0, 0, profiles, defaults=True)
    try:
        _wait_for_spares(server.url, _SPARES)
        time.sleep(3)  # the spares' first page done and idle: their CPU is the start's
        spares = browser_trees_cpu(server.process.pid)
        report.cpu_per_start = sorted(spares.values())
        report.browsers_before = len(spares)
        report.load_before = os.getloadavg()[0]
        asyncio.run(_burst(server.url, page_url, report, server.process.pid))
    finally:
        server.stop()
    return report


def _print(run: int, summary: dict[str, Any]) -> None:
    waits = summary["retry_after_429"]
    print(
        f"cold burst {run}: {summary['ok']}/{summary['scrapes']} ok, p50 {summary['p50_s']} s, "
        f"p95 {summary['p95_s']} s, max {summary['max_s']} s, wall {summary['wall_s']} s, "
        f"errors {summary['errors']} {summary['errors_by_status'] or ''}"
        + (f" Retry-After {','.join(waits)}" if waits else "")
    )
    print(
        f"  browser starts during the burst {summary['browser_starts_during_burst']}; CPU per "
        f"start (idle spares) {summary['cpu_per_start_s']} s; CPU per scrape "
        f"{summary['cpu_per_scrape_s']} s {summary['cpu_during_burst_s']}, cores used "
        f"{summary['cores_used']} of {os.cpu_count()}; a browser's tree at "
        f"the end (start + scrape), p50 {summary['browser_cpu_p50_s']} s; load average before "
        f"{summary['load_average_before']}"
    )


def burst_main(argv: list[str]) -> int:
    """``python -m evals.load --cold-burst``: 0 when every run had no error."""
    parser = argparse.ArgumentParser(
        prog="python -m evals.load --cold-burst", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--scrapes", type=int, default=30, help="scrapes at once (default 30)")
    parser.add_argument("--runs", type=int, default=1, help="bursts, each on a fresh server")
    parser.add_argument("--json", type=Path, help="also write the summaries to this file")
    args = parser.parse_args(argv)
    if not 1 <= args.scrapes <= 200 or not 1 <= args.runs <= 10:
        parser.error("--scrapes must be 1-200 and --runs 1-10")
    summaries = []
    with serve_page(_PAGE) as base, tempfile.TemporaryDirectory(prefix="agent-burst-") as profiles:
        for run in range(1, args.runs + 1):
            summary = run_cold_burst(args.scrapes, f"{base}/burst.html", profiles).summary()
            _print(run, summary)
            summaries.append(summary)
    p50s = [s["p50_s"] for s in summaries if s["p50_s"] is not None]
    if len(p50s) > 1:
        print(f"p50 over runs: median {statistics.median(p50s)} s ({p50s})")
    print(f"(machine: {os.cpu_count()} cores)", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(summaries, indent=2))
    return 0 if all(s["errors"] == 0 for s in summaries) else 1
