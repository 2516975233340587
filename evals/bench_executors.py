"""Code executor benchmark: a trivial call per language, cold and warm, with and without the
sandbox, in one run.

Run: ``python -m evals.bench_executors [--warm N] [--cold N] [--sandbox both|bwrap|none]``. The
trivial call is ``await page.title()`` (python, node) and ``agent browser get title`` (bash,
which pays a python start-up for the client on every command). Cold is the first call of each
language on a fresh session: the worker starts (the first one also starts the session's sandbox),
imports Playwright and attaches to the browser. Warm is every later call; the sessions of both
modes stay open and take turns, so machine noise hits both alike.

Targets: warm p50 <= 50 ms for python and node; with the sandbox, warm p50 at most 10 ms above
the unsandboxed one, and cold p50 at most 1.5x.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time

from agent.browser.session import BrowserSession
from agent.config import Settings
from agent.executors import Language, run_code

_PAGE = "data:text/html,<title>bench</title><p>executor benchmark</p>"
_CODE: dict[Language, str] = {
    "python": "await page.title()",
    "node": "await page.title()",
    "bash": "agent browser get title",
}
_TARGET_MS: dict[Language, float] = {"python": 50.0, "node": 50.0}
_MODES = {"bwrap": Settings(sandbox="bwrap"), "none": Settings(sandbox=None)}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


async def _timed(session: BrowserSession, language: Language, settings: Settings) -> float:
    started = time.perf_counter()
    outcome = await run_code(session, _CODE[language], language, settings=settings)
    elapsed = (time.perf_counter() - started) * 1000
    if not outcome.success or "bench" not in outcome.result + outcome.stdout:
        raise RuntimeError(f"{language} call failed: {outcome}")
    return elapsed


async def _measure(warm: int, cold: int, modes: list[str]) -> int:
    cold_times: dict[tuple[str, Language], list[float]] = {
        (m, lang): [] for m in modes for lang in _CODE
    }
    warm_times: dict[tuple[str, Language], list[float]] = {
        (m, lang): [] for m in modes for lang in _CODE
    }
    for round_number in range(cold):
        sessions: dict[str, BrowserSession] = {}
        try:
            for mode in modes:
                session = sessions[mode] = await BrowserSession.start()
                await session.goto(_PAGE)
                for language in _CODE:
                    cold_times[(mode, language)].append(
                        await _timed(session, language, _MODES[mode])
                    )
            if round_number == 0:
                for _ in range(warm):
                    for mode in modes:
                        for language in _CODE:
                            warm_times[(mode, language)].append(
                                await _timed(sessions[mode], language, _MODES[mode])
                            )
        finally:
            for session in sessions.values():
                await session.close()
        print(f"cold round {round_number + 1}/{cold} done", file=sys.stderr)
    print(
        f"\n{'sandbox':8s} {'language':8s} {'cold p50':>9s} {'cold max':>9s} {'warm p50':>9s} "
        f"{'warm p95':>9s}"
    )
    for mode in modes:
        for language in _CODE:
            key = (mode, language)
            print(
                f"{mode:8s} {language:8s} {statistics.median(cold_times[key]):7.1f}ms "
                f"{max(cold_times[key]):7.1f}ms {statistics.median(warm_times[key]):7.1f}ms "
                f"{_percentile(warm_times[key], 0.95):7.1f}ms"
            )
    failed = 0
    for mode in modes:
        for language, target in _TARGET_MS.items():
            p50 = statistics.median(warm_times[(mode, language)])
            failed += p50 > target
            print(
                f"  {mode} {language} warm p50 {p50:.1f} ms (target <= {target:.0f} ms: "
                f"{'met' if p50 <= target else 'MISSED'})"
            )
    if set(modes) == {"bwrap", "none"}:
        for language in _CODE:
            extra = statistics.median(warm_times[("bwrap", language)]) - statistics.median(
                warm_times[("none", language)]
            )
            ratio = statistics.median(cold_times[("bwrap", language)]) / statistics.median(
                cold_times[("none", language)]
            )
            failed += extra > 10 or ratio > 1.5
            print(
                f"  sandbox {language}: warm p50 {extra:+.1f} ms (target <= +10 ms), cold p50 "
                f"{ratio:.2f}x (target <= 1.5x)"
            )
    print(f"\n(warm: {warm} calls per language and mode; cold: {cold} fresh sessions per mode)")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--warm", type=int, default=50, help="warm calls per language and mode")
    parser.add_argument("--cold", type=int, default=3, help="fresh sessions per mode")
    parser.add_argument("--sandbox", choices=("both", "bwrap", "none"), default="both")
    args = parser.parse_args(argv)
    modes = ["bwrap", "none"] if args.sandbox == "both" else [args.sandbox]
    return asyncio.run(_measure(max(args.warm, 1), max(args.cold, 1), modes))


if __name__ == "__main__":
    raise SystemExit(main())
