"""Scale-out benchmark: local vs remote browser providers, and the cost of forwarding.

Run: ``python3 -m evals.bench_scale [--repeat 10]``. It starts, on loopback, a Chromium with a
DevTools port (``cdp``), a Playwright browser server (``playwright``), ``redis-server``, and
``agent serve`` replicas sharing it: one per provider, and a second local one (B). Then, on the same small
local page, interleaved so machine noise hits all alike:

* scrape -> ready (the POST /v2/scrape round trip) per provider;
* a warm code call (``await page.title()``, python, after a first one) per provider;
* the same warm call sent to the session's own replica (A) and to the other one (B), which
  forwards it to A: the difference of the p50s is what forwarding adds.

Targets (issue 14): remote providers within 1.5x of local for both; forwarding adds <= 10 ms p50.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from evals.infra import Replica, cdp_chromium, playwright_server, redis_server
from evals.sites import serve_page

__all__ = ["main"]

_PAGE = b"""<!doctype html><html><head><meta charset="utf-8"><title>Scale</title></head>
<body><h1>Scale benchmark</h1><p>One small page.</p><button>Go</button></body></html>"""
KINDS = ("local", "cdp", "playwright")


def _timed(call: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = call()
    return (time.perf_counter() - started) * 1000, result


def _scrape(replica: Replica, page: str) -> tuple[float, str]:
    elapsed, response = _timed(lambda: replica.scrape(page))
    if response.status_code != 200:
        raise RuntimeError(f"scrape failed: {response.status_code} {response.text}")
    return elapsed, str(response.json()["data"]["metadata"]["scrapeId"])


def _code(replica: Replica, scrape_id: str) -> float:
    elapsed, response = _timed(
        lambda: replica.interact(scrape_id, code="await page.title()", language="python")
    )
    body = response.json()
    if response.status_code != 200 or body.get("result") != "Scale":
        raise RuntimeError(f"code call failed: {response.status_code} {body}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m evals.bench_scale")
    parser.add_argument("--repeat", type=int, default=10, help="samples of each (default 10)")
    args = parser.parse_args(argv)
    scrape_ms: dict[str, list[float]] = {kind: [] for kind in KINDS}
    code_ms: dict[str, list[float]] = {kind: [] for kind in KINDS}
    direct_ms: list[float] = []
    forwarded_ms: list[float] = []
    with ExitStack() as stack:
        page = stack.enter_context(serve_page(_PAGE)) + "/scale.html"
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="agent-scale-")))
        cdp = stack.enter_context(cdp_chromium())
        playwright = stack.enter_context(playwright_server())
        redis_url = stack.enter_context(redis_server())
        endpoints: dict[str, dict[str, Any]] = {
            "local": {"kind": "local"},
            "cdp": {"kind": "cdp", "url": cdp, "capacity": 64},
            "playwright": {"kind": "playwright", "url": playwright, "capacity": 64},
        }
        replicas = {
            name: Replica(
                redis_url=redis_url,
                endpoints=[endpoints["local" if name == "b" else name]],
                profiles=folder,
                log=folder / f"replica-{name}.log",
            )
            for name in (*KINDS, "b")
        }
        for replica in replicas.values():
            stack.callback(replica.stop)
        sessions: dict[str, str] = {}
        for round_number in range(args.repeat):
            for kind in KINDS:
                elapsed, scrape_id = _scrape(replicas[kind], page)
                scrape_ms[kind].append(elapsed)
                if round_number == 0:
                    sessions[kind] = scrape_id
                    _code(replicas[kind], scrape_id)  # the first call starts the sandbox
                else:
                    replicas[kind].stop_session(scrape_id)
            for kind in KINDS:
                code_ms[kind].append(_code(replicas[kind], sessions[kind]))
            direct_ms.append(_code(replicas["local"], sessions["local"]))
            forwarded_ms.append(_code(replicas["b"], sessions["local"]))
        for kind, scrape_id in sessions.items():
            replicas[kind].stop_session(scrape_id)
    print(f"scale-out benchmark, {args.repeat} samples each, p50 (ms), on one local page")
    print(
        f"{'provider':<12} {'scrape->ready':>14} {'ratio':>7} {'warm code call':>15} {'ratio':>7}"
    )
    failed = 0
    local_scrape = statistics.median(scrape_ms["local"])
    local_code = statistics.median(code_ms["local"])
    for kind in KINDS:
        scrape = statistics.median(scrape_ms[kind])
        code = statistics.median(code_ms[kind])
        failed += kind != "local" and (scrape / local_scrape > 1.5 or code / local_code > 1.5)
        print(
            f"{kind:<12} {scrape:>12.0f}ms {scrape / local_scrape:>6.2f}x {code:>13.1f}ms "
            f"{code / local_code:>6.2f}x"
        )
    added = statistics.median(forwarded_ms) - statistics.median(direct_ms)
    failed += added > 10
    print(
        f"forwarding (B -> A): direct p50 {statistics.median(direct_ms):.1f} ms, via B "
        f"{statistics.median(forwarded_ms):.1f} ms: adds {added:+.1f} ms (target <= 10 ms)"
    )
    print(
        "targets: remote within 1.5x of local for both; "
        + ("all met" if not failed else "SOME MISSED")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
