"""Code executor benchmark: round-trip time of a trivial call per language, cold and warm.

Run: ``python -m evals.bench_executors [--warm N] [--cold N]``. The trivial call is
``await page.title()`` (python, node) and ``agent browser get title`` (bash, which pays a python
start-up for the client on every command). Cold is the first call on a session: the worker is
started, imports Playwright and attaches over CDP. Warm is every later call. Targets: warm p50
<= 50 ms for python and node.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time

from agent.browser.session import BrowserSession
from agent.executors import Language, run_code

_PAGE = "data:text/html,<title>bench</title><p>executor benchmark</p>"
_CODE: dict[Language, str] = {
    "python": "await page.title()",
    "node": "await page.title()",
    "bash": "agent browser get title",
}
_TARGET_MS: dict[Language, float] = {"python": 50.0, "node": 50.0}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


async def _timed(session: BrowserSession, language: Language) -> float:
    started = time.perf_counter()
    outcome = await run_code(session, _CODE[language], language)
    elapsed = (time.perf_counter() - started) * 1000
    if not outcome.success or "bench" not in outcome.result + outcome.stdout:
        raise RuntimeError(f"{language} call failed: {outcome}")
    return elapsed


async def _measure(warm: int, cold: int) -> int:
    cold_times: dict[Language, list[float]] = {lang: [] for lang in _CODE}
    warm_times: dict[Language, list[float]] = {lang: [] for lang in _CODE}
    for round_number in range(cold):
        session = await BrowserSession.start()
        try:
            await session.goto(_PAGE)
            for language in _CODE:
                cold_times[language].append(await _timed(session, language))
            if round_number == 0:
                for _ in range(warm):
                    for language in _CODE:  # interleaved, so machine noise hits all alike
                        warm_times[language].append(await _timed(session, language))
        finally:
            await session.close()
        print(f"cold round {round_number + 1}/{cold} done", file=sys.stderr)
    print(
        f"\n{'language':8s} {'cold p50':>9s} {'cold max':>9s} {'warm p50':>9s} "
        f"{'warm p95':>9s} {'target':>8s}"
    )
    failed = 0
    for language in _CODE:
        warm_p50 = statistics.median(warm_times[language])
        target = _TARGET_MS.get(language)
        verdict = ""
        if target is not None:
            verdict = f"<= {target:.0f}" + (" ok" if warm_p50 <= target else " MISS")
            failed += warm_p50 > target
        print(
            f"{language:8s} {statistics.median(cold_times[language]):7.1f}ms "
            f"{max(cold_times[language]):7.1f}ms {warm_p50:7.1f}ms "
            f"{_percentile(warm_times[language], 0.95):7.1f}ms {verdict:>8s}"
        )
    print(f"\n(warm: {warm} calls per language; cold: {cold} fresh sessions, ms per call)")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--warm", type=int, default=50, help="warm calls per language")
    parser.add_argument("--cold", type=int, default=3, help="fresh sessions for cold starts")
    args = parser.parse_args(argv)
    return asyncio.run(_measure(max(args.warm, 1), max(args.cold, 1)))


if __name__ == "__main__":
    raise SystemExit(main())
