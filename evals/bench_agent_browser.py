"""agent-browser in bash mode, through the HTTP API: command latency and the memory it adds.

Run::

    python3 -m evals.bench_agent_browser [--repeat 30]

Starts the real server in a child process (as ``evals.load`` does), scrapes a small local page,
and times interact calls whose bash code is one command: ``agent-browser get url`` and
``agent-browser snapshot -i`` (vercel-labs' CLI attached to the session's browser), next to
``agent browser get url`` and ``agent browser snapshot -i`` (ours), interleaved, each call a
whole HTTP round trip. Then it reads the PSS of the agent-browser daemon the session started:
the memory a session carries once agent-browser has been used. Targets: p50 of each
agent-browser command <= 150 ms including HTTP, <= 50 MiB extra per session (issue 12); the p50
of each ``agent browser`` command <= 1.2x agent-browser's (issue 24).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from typing import Any

import httpx

from agent import procfs
from evals.load_server import ServerProcess
from evals.sites import serve_page

__all__ = ["main"]

_PAGE = b"""<!doctype html><html><head><meta charset="utf-8"><title>Bench</title></head>
<body><main><h1>agent-browser bench</h1><form><label>Query <input name="q"></label>
<button type="button">Search</button></form><a href="#more">More</a>
<p>Some text for the snapshot to carry.</p></main></body></html>"""

_RATIO_TARGET = 1.2
"""Issue 24: ``agent browser`` p50 at most this many times agent-browser's, in the same run."""

COMMANDS = (
    "agent-browser get url",
    "agent browser get url",
    "agent-browser snapshot -i",
    "agent browser snapshot -i",
)


def _daemons() -> list[int]:
    """Live agent-browser daemons (the bench runs one session, so one daemon at most)."""
    found = []
    for pid in procfs.pids():
        argv = procfs.cmdline(pid)
        if argv and argv[0].endswith((b"/agent-browser-linux-x64", b"/agent-browser-linux-arm64")):
            found.append(pid)
    return found


def _interact(
    client: httpx.Client, url: str, scrape_id: str, code: str
) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    response = client.post(
        f"{url}/v2/scrape/{scrape_id}/interact",
        json={"code": code, "language": "bash", "timeout": 60},
        timeout=120,
    )
    elapsed = (time.perf_counter() - started) * 1000
    body = response.json()
    if response.status_code != 200 or not body.get("success"):
        raise RuntimeError(f"{code!r} failed: HTTP {response.status_code} {body}")
    return elapsed, body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m evals.bench_agent_browser")
    parser.add_argument("--repeat", type=int, default=30, help="calls per command (default 30)")
    args = parser.parse_args(argv)
    before = set(_daemons())
    with serve_page(_PAGE) as base, tempfile.TemporaryDirectory(prefix="agent-bench-") as profiles:
        page = f"{base}/bench.html"
        server = ServerProcess(4, 1, profiles)
        try:
            with httpx.Client() as client:
                scraped = client.post(f"{server.url}/v2/scrape", json={"url": page}, timeout=120)
                scrape_id = scraped.json()["data"]["metadata"]["scrapeId"]
                cold: dict[str, float] = {}
                for code in COMMANDS:  # first calls: the daemon starts, workers warm up
                    cold[code] = _interact(client, server.url, scrape_id, code)[0]
                timings: dict[str, list[float]] = {code: [] for code in COMMANDS}
                for _ in range(args.repeat):
                    for code in COMMANDS:
                        timings[code].append(_interact(client, server.url, scrape_id, code)[0])
                daemons = [pid for pid in _daemons() if pid not in before]
                pss_kib = sum(procfs.rss_pss_kib(pid)[1] for pid in daemons)
                client.delete(f"{server.url}/v2/scrape/{scrape_id}/interact", timeout=60)
                time.sleep(1.0)
                left = [pid for pid in _daemons() if pid not in before]
        finally:
            server.stop()
    print(
        f"agent-browser vs agent browser, bash interact calls over HTTP, {args.repeat} each "
        f"({os.cpu_count()} cores, load {os.getloadavg()[0]:.1f})"
    )
    print(f"{'command':<28} {'first':>9} {'p50':>9} {'p95':>9}")
    for code in COMMANDS:
        values = sorted(timings[code])
        p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
        print(f"{code:<28} {cold[code]:>7.0f}ms {statistics.median(values):>7.0f}ms {p95:>7.0f}ms")
    for verb in ("get url", "snapshot -i"):
        ours = statistics.median(timings[f"agent browser {verb}"])
        theirs = statistics.median(timings[f"agent-browser {verb}"])
        print(
            f"  {verb}: agent browser p50 / agent-browser p50 = {ours / theirs:.2f}x "
            f"(target <= {_RATIO_TARGET}x: {'met' if ours <= _RATIO_TARGET * theirs else 'MISSED'}"
            f"); agent-browser p50 <= 150 ms: {'met' if theirs <= 150 else 'MISSED'}"
        )
    print(
        f"memory added by agent-browser: {len(daemons)} daemon(s), PSS {pss_kib / 1024:.1f} MiB "
        f"(target <= 50 MiB: {'met' if pss_kib <= 50 * 1024 else 'MISSED'})"
    )
    print(f"daemons left after the session stopped: {len(left)}")
    return 0 if not left else 1


if __name__ == "__main__":
    raise SystemExit(main())
