"""Load test: many sessions, many interact calls each, against a local page; bounded and loopback.

Run::

    python -m evals.load --suite        # every capacity target (burst, idle memory, code calls)
    python -m evals.load --cold-burst   # 30 scrapes at once, default settings (evals.load_burst)
    python -m evals.load --sessions 50 --concurrency 50 --calls 3 --together
    python -m evals.load --sessions 100 --calls 10 --concurrency 10
    python -m evals.load --sessions 20 --calls 5 --mode mixed --language node

It starts the real server (``create_app`` under uvicorn) in a child process on 127.0.0.1 with
``max_sessions`` raised to fit, serves a small page from this process, and runs ``--sessions``
sessions, ``--concurrency`` at a time: each scrapes the page, makes ``--calls`` interact calls
(code, ``await page.title()``; or a two-step prompt answered by a scripted model; or both in
turn) and stops; with ``--together`` the first ``--concurrency`` sessions are all open before
any makes its calls. It reports throughput, p50/p95 latency per kind of call, errors, and the
peak memory of each session's browser process tree and code executors (RSS and PSS, sampled
from /proc). Everything stops after ``--max-seconds``, whatever is left.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from evals.load_burst import burst_main
from evals.load_server import TITLE, ServerProcess
from evals.proc_memory import MemoryPeaks, MemorySampler, cpu_by_kind
from evals.sites import serve_page

__all__ = ["LoadReport", "main", "run_load"]

_PAGE = f"""<!doctype html><html><head><meta charset="utf-8"><title>{TITLE}</title></head>
<body><main><h1>{TITLE}</h1><p>Each session loads this page and asks for its title.</p>
<form><label>Name <input name="name"></label><button type="button">Send</button></form>
</main></body></html>""".encode()
_CODE = {"python": "await page.title()", "node": "await page.title()", "bash": "echo ok"}
_LIMITS = {"sessions": 1000, "concurrency": 200, "calls": 100}


# --- the load ------------------------------------------------------------------------------


@dataclass
class LoadReport:
    """What a load run measured; latencies in seconds, memory in KiB."""

    sessions: int
    concurrency: int
    calls: int
    mode: str
    language: str
    wall_s: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    sessions_done: int = 0
    timed_out: bool = False
    memory: MemoryPeaks = field(default_factory=MemoryPeaks)

    def summary(self) -> dict[str, Any]:
        interact = self.latencies.get("interact", [])
        requests = sum(len(v) for v in self.latencies.values())
        kinds = {
            kind: {
                "count": len(values),
                "p50_ms": round(_percentile(values, 0.50) * 1000, 1),
                "p95_ms": round(_percentile(values, 0.95) * 1000, 1),
                "max_ms": round(max(values) * 1000, 1),
            }
            for kind, values in self.latencies.items()
            if values
        }
        rss = list(self.memory.per_session_rss.values())
        pss = list(self.memory.per_session_pss.values())
        mib = 1024
        return {
            "sessions": self.sessions,
            "sessions_completed": self.sessions_done,
            "concurrency": self.concurrency,
            "calls_per_session": self.calls,
            "mode": self.mode,
            "language": self.language,
            "wall_s": round(self.wall_s, 1),
            "interact_calls_per_s": round(len(interact) / self.wall_s, 2) if self.wall_s else 0,
            "requests_per_s": round(requests / self.wall_s, 2) if self.wall_s else 0,
            "latency": kinds,
            "errors": len(self.errors),
            "error_examples": sorted(set(self.errors))[:5],
            "stopped_at_deadline": self.timed_out,
            "memory_mib": {
                "per_session_peak_rss_p50": round(statistics.median(rss) / mib, 1) if rss else 0,
                "per_session_peak_rss_max": round(max(rss) / mib, 1) if rss else 0,
                "per_session_peak_pss_p50": round(statistics.median(pss) / mib, 1) if pss else 0,
                "per_session_peak_pss_max": round(max(pss) / mib, 1) if pss else 0,
                "server_and_drivers_peak_rss": round(self.memory.server_rss / mib, 1),
                "total_peak_pss": round(self.memory.total_pss / mib, 1),
                "total_peak_rss": round(self.memory.total_rss / mib, 1),
                "sessions_at_total_peak": self.memory.sessions_at_total_peak,
                "samples": self.memory.samples,
            },
        }


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _interact_body(mode: str, language: str, call: int, timeout_s: int) -> dict[str, Any]:
    use_prompt = mode == "prompt" or (mode == "mixed" and call % 2 == 1)
    if use_prompt:
        return {"prompt": "What is the page's title?", "timeout": timeout_s}
    return {"code": _CODE[language], "language": language, "timeout": timeout_s}


@dataclass
class _Wave:
    """Holds the first ``size`` sessions after their scrape until all of them have scraped, so
    that they are all open at once (``--together``)."""

    size: int
    attempts: int = 0
    all_open: asyncio.Event = field(default_factory=asyncio.Event)

    async def scraped(self) -> None:
        self.attempts += 1
        if self.attempts >= self.size:
            self.all_open.set()
        await self.all_open.wait()


async def _one_session(
    client: httpx.AsyncClient,
    page_url: str,
    report: LoadReport,
    call_timeout_s: int,
    wave: _Wave | None,
) -> None:
    async def timed(kind: str, method: str, path: str, body: Any = None) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            response = await client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            report.errors.append(f"{kind}: {type(exc).__name__}: {exc}"[:160])
            return None
        report.latencies[kind].append(time.perf_counter() - started)
        if response.status_code != 200:
            report.errors.append(f"{kind}: HTTP {response.status_code}: {response.text[:120]}")
            return None
        return response

    scraped = await timed("scrape", "POST", "/v2/scrape", {"url": page_url})
    if wave is not None:
        await wave.scraped()
    if scraped is None:
        return
    scrape_id = scraped.json()["data"]["metadata"]["scrapeId"]
    try:
        for call in range(report.calls):
            body = _interact_body(report.mode, report.language, call, call_timeout_s)
            answered = await timed("interact", "POST", f"/v2/scrape/{scrape_id}/interact", body)
            if answered is None:
                continue
            result = answered.json()
            text = f"{result.get('result', '')}{result.get('output', '')}{result.get('stdout', '')}"
            expected = "ok" if "code" in body and report.language == "bash" else TITLE
            if not result.get("success") or expected not in text:
                report.errors.append(f"interact: unexpected answer {json.dumps(result)[:160]}")
    finally:
        if await timed("stop", "DELETE", f"/v2/scrape/{scrape_id}/interact") is not None:
            report.sessions_done += 1


async def run_load(
    base_url: str,
    page_url: str,
    report: LoadReport,
    *,
    max_seconds: float,
    call_timeout_s: int,
    together: bool = False,
) -> None:
    """Run ``report.sessions`` sessions, ``report.concurrency`` at a time, until done or the
    deadline; fills in ``report``. With ``together`` the first ``concurrency`` sessions all
    open before any of them makes its calls."""
    gate = asyncio.Semaphore(report.concurrency)
    wave = _Wave(min(report.concurrency, report.sessions)) if together else None
    limits = httpx.Limits(max_connections=report.concurrency * 2, max_keepalive_connections=None)
    # A scrape may queue behind many browser launches (a few start at once): only the run's
    # deadline bounds a request.
    timeout = httpx.Timeout(max_seconds, connect=30.0)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=timeout) as client:

        async def gated() -> None:
            async with gate:
                await _one_session(client, page_url, report, call_timeout_s, wave)

        started = time.perf_counter()
        tasks = [asyncio.create_task(gated()) for _ in range(report.sessions)]
        try:
            async with asyncio.timeout(max_seconds):
                await asyncio.gather(*tasks)
        except TimeoutError:
            report.timed_out = True
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        report.wall_s = time.perf_counter() - started


# --- the suite: every figure of the capacity targets, in one run ----------------------------


@dataclass
class SuiteReport:
    """What ``--suite`` measured (latencies in seconds)."""

    burst: int
    idle: int
    burst_latencies: list[float] = field(default_factory=list)
    burst_errors: list[str] = field(default_factory=list)
    burst_spares: int = 0
    burst_fill_s: float = 0.0
    scrape_cost: dict[str, float] = field(default_factory=dict)
    idle_open: int = 0
    idle_errors: list[str] = field(default_factory=list)
    idle_pss_total_kib: int = 0
    idle_browsers: int = 0
    calls: LoadReport | None = None


async def _scrape(client: httpx.AsyncClient, page_url: str) -> tuple[str | None, float, str]:
    started = time.perf_counter()
    try:
        response = await client.post("/v2/scrape", json={"url": page_url})
    except httpx.HTTPError as exc:
        return None, 0.0, f"scrape: {type(exc).__name__}: {exc}"[:160]
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        return None, elapsed, f"scrape: HTTP {response.status_code}: {response.text[:120]}"
    return str(response.json()["data"]["metadata"]["scrapeId"]), elapsed, ""


async def run_burst(
    base_url: str, page_url: str, report: SuiteReport, *, max_seconds: float
) -> None:
    """A burst of ``report.burst`` scrapes at once (scrape -> ready latency), then stop them."""
    limits = httpx.Limits(max_connections=report.burst + 10, max_keepalive_connections=None)
    timeout = httpx.Timeout(max_seconds, connect=30.0)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=timeout) as client:
        burst = await asyncio.gather(*(_scrape(client, page_url) for _ in range(report.burst)))
        report.burst_latencies = [elapsed for scrape_id, elapsed, _ in burst if scrape_id]
        report.burst_errors = [error for _, _, error in burst if error]
        await _stop_all(client, [scrape_id for scrape_id, _, _ in burst if scrape_id], [])


async def run_idle(
    base_url: str,
    page_url: str,
    report: SuiteReport,
    sampler: MemorySampler,
    *,
    hold_s: float,
    max_seconds: float,
) -> None:
    """``report.idle`` sessions opened ten at a time, all idle at once, their memory read, held
    for ``hold_s`` and stopped (every stop must succeed: none expired or was lost)."""
    limits = httpx.Limits(max_connections=report.idle + 10, max_keepalive_connections=None)
    timeout = httpx.Timeout(max_seconds, connect=30.0)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=timeout) as client:
        ids: list[str] = []
        gate = asyncio.Semaphore(10)

        async def one_more() -> None:
            async with gate:
                scrape_id, _, error = await _scrape(client, page_url)
            if scrape_id:
                ids.append(scrape_id)
            else:
                report.idle_errors.append(error)

        await asyncio.gather(*(one_more() for _ in range(report.idle)))
        report.idle_open = len(ids)
        await asyncio.sleep(5)  # let pages and browsers settle to their idle state
        report.idle_pss_total_kib, report.idle_browsers = sampler.tree_pss_kib()
        await asyncio.sleep(hold_s)
        await _stop_all(client, ids, report.idle_errors)


async def _stop_all(client: httpx.AsyncClient, ids: list[str], errors: list[str]) -> None:
    gate = asyncio.Semaphore(10)

    async def stop(scrape_id: str) -> None:
        async with gate:
            try:
                response = await client.delete(f"/v2/scrape/{scrape_id}/interact")
            except httpx.HTTPError as exc:
                errors.append(f"stop: {type(exc).__name__}: {exc}"[:160])
                return
        if response.status_code != 200:
            errors.append(f"stop: HTTP {response.status_code}: {response.text[:120]}")

    await asyncio.gather(*(stop(scrape_id) for scrape_id in ids))


def _scrape_cost(
    server: ServerProcess, page_url: str, spares: int, count: int = 3
) -> dict[str, float]:
    """CPU seconds one scrape costs on its own, by kind of process, averaged over ``count``
    scrapes one after another; ``wall`` is its latency. Before each, the reserve is full again
    and the machine has settled, so no spare's launch is counted."""
    totals: dict[str, float] = defaultdict(float)
    opened: list[str] = []
    with httpx.Client(base_url=server.url, timeout=120) as client:
        for _ in range(count):
            _wait_for_spares(server.url, spares, timeout_s=300, quiet=True)
            time.sleep(2)
            before = cpu_by_kind(server.process.pid)
            started = time.perf_counter()
            response = client.post("/v2/scrape", json={"url": page_url})
            totals["wall"] += time.perf_counter() - started
            after = cpu_by_kind(server.process.pid)
            for kind, seconds in after.items():
                totals[kind] += seconds - before.get(kind, 0.0)
            if response.status_code == 200:
                opened.append(response.json()["data"]["metadata"]["scrapeId"])
        for scrape_id in opened:
            client.delete(f"/v2/scrape/{scrape_id}/interact")
    return {kind: seconds / count for kind, seconds in totals.items()}


def _wait_for_spares(url: str, wanted: int, timeout_s: float, *, quiet: bool = False) -> float:
    """Wait until the server holds ``wanted`` started browsers in reserve; the seconds it took."""
    started = time.monotonic()
    shown = -1
    while True:
        ready = int(httpx.get(f"{url}/health", timeout=10).json().get("browsersReady", 0))
        if ready != shown and not quiet:
            print(f"  spare browsers ready: {ready}/{wanted}", file=sys.stderr, flush=True)
            shown = ready
        if ready >= wanted:
            return time.monotonic() - started
        if time.monotonic() - started > timeout_s:
            raise RuntimeError(f"only {ready} of {wanted} spare browsers after {timeout_s:g} s")
        time.sleep(1)


def _print_suite(report: SuiteReport, target_pss_mib: float = 150) -> bool:
    calls = report.calls.summary() if report.calls else {}
    ok = True
    lat = sorted(report.burst_latencies)
    p50 = _percentile(lat, 0.5) if lat else float("nan")
    p95 = _percentile(lat, 0.95) if lat else float("nan")
    burst_ok = not report.burst_errors and p50 <= 10 and p95 <= 20
    ok &= burst_ok
    print(
        f"\nburst: {report.burst} scrapes at once, {report.burst_spares} spare browsers ready "
        f"(filled in {report.burst_fill_s:.0f} s): {len(lat)} ready, scrape -> ready p50 "
        f"{p50:.1f} s, p95 {p95:.1f} s, errors {len(report.burst_errors)} "
        f"(targets p50 <= 10 s, p95 <= 20 s, 0 errors: {'met' if burst_ok else 'MISSED'})"
    )
    if report.scrape_cost:
        cost = dict(report.scrape_cost)
        wall = cost.pop("wall", 0.0)
        print(
            f"one scrape alone: {wall * 1000:.0f} ms, CPU {sum(cost.values()):.2f} s ("
            + ", ".join(f"{kind} {seconds:.2f}" for kind, seconds in sorted(cost.items()))
            + ")"
        )
    sessions = max(report.idle_open, 1)
    per_session = report.idle_pss_total_kib / 1024 / sessions
    idle_ok = not report.idle_errors and report.idle_open >= report.idle
    pss_ok = per_session <= target_pss_mib
    ok &= idle_ok and pss_ok
    print(
        f"idle: {report.idle_open}/{report.idle} sessions open at once and held, errors "
        f"{len(report.idle_errors)} ({'met' if idle_ok else 'MISSED'})"
    )
    print(
        f"memory: whole server tree PSS {report.idle_pss_total_kib / 1024:.0f} MiB with "
        f"{report.idle_open} idle sessions ({report.idle_browsers} browsers, spares included) "
        f"= {per_session:.1f} MiB per idle session (target <= {target_pss_mib:.0f}: "
        f"{'met' if pss_ok else 'MISSED'})"
    )
    if calls:
        calls_ok = calls["errors"] == 0 and calls["sessions_completed"] == calls["sessions"]
        ok &= calls_ok
        stats = calls["latency"].get("interact", {})
        print(
            f"calls: {calls['sessions_completed']}/{calls['sessions']} sessions x "
            f"{calls['calls_per_session']} {calls['language']} code calls, "
            f"{calls['concurrency']} at a time: interact p50 {stats.get('p50_ms', 0):.0f} ms, "
            f"p95 {stats.get('p95_ms', 0):.0f} ms, errors {calls['errors']} "
            f"({'met' if calls_ok else 'MISSED'})"
        )
    for error in sorted(set(report.burst_errors + report.idle_errors))[:5]:
        print(f"  error: {error}")
    return ok


def _print_report(summary: dict[str, Any]) -> None:
    print(
        f"\n{summary['sessions_completed']}/{summary['sessions']} sessions × "
        f"{summary['calls_per_session']} {summary['mode']} calls ({summary['language']}), "
        f"{summary['concurrency']} at a time, in {summary['wall_s']} s"
        + ("  [STOPPED AT THE DEADLINE]" if summary["stopped_at_deadline"] else "")
    )
    print(
        f"throughput: {summary['interact_calls_per_s']} interact calls/s, "
        f"{summary['requests_per_s']} requests/s; errors: {summary['errors']}"
    )
    for kind, stats in summary["latency"].items():
        print(
            f"  {kind:<9} n={stats['count']:<5} p50 {stats['p50_ms']:>8.1f} ms   "
            f"p95 {stats['p95_ms']:>8.1f} ms   max {stats['max_ms']:>8.1f} ms"
        )
    memory = summary["memory_mib"]
    print(
        f"memory per browser tree (Chromium + its session's executors), peak: RSS p50 "
        f"{memory['per_session_peak_rss_p50']} MiB, max {memory['per_session_peak_rss_max']} "
        f"MiB; PSS p50 {memory['per_session_peak_pss_p50']} MiB, max "
        f"{memory['per_session_peak_pss_max']} MiB"
    )
    print(
        f"server + Playwright drivers peak RSS {memory['server_and_drivers_peak_rss']} MiB; "
        f"whole tree peak PSS {memory['total_peak_pss']} MiB with "
        f"{memory['sessions_at_total_peak']} browser trees (sessions and spares; "
        f"{memory['samples']} samples)"
    )
    for example in summary["error_examples"]:
        print(f"  error: {example}")


@contextmanager
def _sampled_server(
    max_sessions: int, spares: int, profiles: str, interval_s: float
) -> Iterator[tuple[ServerProcess, MemorySampler]]:
    """A server whose process tree's memory is sampled while it runs; both end on the way out."""
    server = ServerProcess(max_sessions, spares, profiles)
    sampler = MemorySampler(server.process.pid, interval_s)
    sampler.start()
    try:
        yield server, sampler
    finally:
        sampler.stop()
        server.stop()


def _run_suite_command(args: argparse.Namespace, page_url: str, profiles: str) -> int:
    report = SuiteReport(burst=args.burst, idle=args.idle)
    load_before = os.getloadavg()[0]
    # The burst, on a server whose reserve of started browsers is sized for it (as a team
    # expecting bursts sets AGENT_WARM_BROWSERS), once that reserve is full.
    report.burst_spares = args.burst if args.burst_spares is None else args.burst_spares
    print(f"burst: starting a server with {report.burst_spares} spare browsers", file=sys.stderr)
    server = ServerProcess(args.burst + 4, report.burst_spares, profiles)
    try:
        _wait_for_spares(server.url, report.burst_spares, timeout_s=900)
        report.scrape_cost = _scrape_cost(server, page_url, report.burst_spares)
        report.burst_fill_s = _wait_for_spares(server.url, report.burst_spares, timeout_s=900)
        asyncio.run(run_burst(server.url, page_url, report, max_seconds=args.max_seconds))
    finally:
        server.stop()
    # Idle sessions and code calls, on a server with the default reserve.
    spares = args.warm_browsers if args.warm_browsers is not None else 2
    print(f"idle and calls: a server with {spares} spare browsers", file=sys.stderr)
    sampled = _sampled_server(args.idle + 4, spares, profiles, args.sample_interval)
    with sampled as (server, sampler):
        asyncio.run(
            run_idle(
                server.url,
                page_url,
                report,
                sampler,
                hold_s=args.hold,
                max_seconds=args.max_seconds,
            )
        )
        calls = LoadReport(args.sessions, args.concurrency or 10, args.calls, "code", args.language)
        asyncio.run(
            run_load(
                server.url,
                page_url,
                calls,
                max_seconds=args.max_seconds,
                call_timeout_s=args.call_timeout,
            )
        )
        report.calls = calls
    print(f"(machine: {os.cpu_count()} cores, load average {load_before:.1f} before the run)")
    return 0 if _print_suite(report) else 1


def _suite_main(argv: list[str]) -> int:
    suite = argparse.ArgumentParser(
        prog="python -m evals.load --suite",
        description="Every capacity figure in one run: a burst of scrapes, idle sessions "
        "held at once and their memory, then sessions making code calls.",
    )
    suite.add_argument("--burst", type=int, default=50, help="scrapes at once (default 50)")
    suite.add_argument("--idle", type=int, default=100, help="idle sessions (default 100)")
    suite.add_argument("--hold", type=float, default=30, help="seconds to hold them (30)")
    suite.add_argument("--sessions", type=int, default=100, help="sessions making calls")
    suite.add_argument("--calls", type=int, default=10, help="code calls each (default 10)")
    suite.add_argument("--concurrency", type=int, default=10, help="calling sessions at once")
    suite.add_argument("--language", choices=list(_CODE), default="python")
    suite.add_argument(
        "--burst-spares", type=int, help="spare browsers for the burst (default: --burst)"
    )
    suite.add_argument(
        "--warm-browsers", type=int, help="spare browsers for idle and calls (default 2)"
    )
    suite.add_argument("--max-seconds", type=float, default=1800)
    suite.add_argument("--call-timeout", type=int, default=120)
    suite.add_argument("--sample-interval", type=float, default=5.0)
    suite_args = suite.parse_args(argv)
    with (
        serve_page(_PAGE) as base,
        tempfile.TemporaryDirectory(prefix="agent-load-") as profiles,
    ):
        return _run_suite_command(suite_args, f"{base}/load.html", profiles)


def _load_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m evals.load", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument("--sessions", type=int, default=20, help="sessions in all (default 20)")
    parser.add_argument("--concurrency", type=int, help="sessions at once (default: min(10, N))")
    parser.add_argument("--calls", type=int, default=5, help="interact calls per session")
    parser.add_argument("--mode", choices=["code", "prompt", "mixed"], default="code")
    parser.add_argument("--language", choices=list(_CODE), default="python")
    parser.add_argument("--warm-browsers", type=int, help="server's spare browsers (default 2)")
    parser.add_argument("--max-seconds", type=float, default=900, help="stop after (default 900)")
    parser.add_argument("--call-timeout", type=int, default=120, help="interact timeout, s")
    parser.add_argument("--sample-interval", type=float, default=2.0, help="memory sampling, s")
    parser.add_argument(
        "--together",
        action="store_true",
        help="hold the first --concurrency sessions until all are open, then call",
    )
    parser.add_argument("--json", type=Path, help="also write the summary to this file")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--suite"]:
        return _suite_main(argv[1:])
    if argv[:1] == ["--cold-burst"]:
        return burst_main(argv[1:])
    parser = _load_parser()
    args = parser.parse_args(argv)
    concurrency = args.concurrency or min(10, args.sessions)
    for name, value in (("sessions", args.sessions), ("concurrency", concurrency),
                        ("calls", args.calls)):  # fmt: skip
        if not 1 <= value <= _LIMITS[name]:
            parser.error(f"--{name} must be 1-{_LIMITS[name]}")
    report = LoadReport(args.sessions, concurrency, args.calls, args.mode, args.language)
    load_before = os.getloadavg()[0]
    with serve_page(_PAGE) as base, tempfile.TemporaryDirectory(prefix="agent-load-") as profiles:
        page_url = f"{base}/load.html"
        spares = args.warm_browsers or 2
        sampled = _sampled_server(concurrency + 2, spares, profiles, args.sample_interval)
        with sampled as (server, sampler):
            asyncio.run(
                run_load(
                    server.url,
                    page_url,
                    report,
                    max_seconds=args.max_seconds,
                    call_timeout_s=args.call_timeout,
                    together=args.together,
                )
            )
    report.memory = sampler.peaks
    summary = report.summary()
    summary["machine"] = {"cpus": os.cpu_count(), "load_average_before": round(load_before, 1)}
    _print_report(summary)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return 0 if not report.errors and not report.timed_out else 1


if __name__ == "__main__":
    raise SystemExit(main())
