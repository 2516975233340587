"""Does a snapshot's time depend on the call before it? A 2x2 on the corpus pages.

Run: ``python -m evals.bench_call_order [--repeat N] [--limit N]``.

On each page, with a paragraph added before every call (as ``evals.bench_snapshot``'s changed
page), Playwright's raw ``aria_snapshot(mode="ai")`` (R) and our snapshot (O) are called in the
order R R O O R R O O ... so that each side follows each side equally often. Printed: the median
over pages of each pair's time (the second call of the pair) over R after R. ``bench_snapshot``
takes its turns so that such an effect hits both sides alike (``bench_snapshot._turns``).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import sys

from agent.browser.session import BrowserSession
from agent.errors import first_line
from evals.bench_snapshot import _CHANGE, _ours, _raw
from evals.corpus import corpus_dir, load_only_loopback, serve_corpus

__all__ = ["main"]

_PAIRS = list(itertools.product("RO", "RO"))  # (the call before, the call timed)


async def _measure(repeat: int, limit: int | None) -> int:
    per_page: dict[tuple[str, str], list[float]] = {pair: [] for pair in _PAIRS}
    pages = sorted(p.name for p in corpus_dir().glob("*.html"))[:limit]
    with serve_corpus() as base:
        session = await BrowserSession.start(navigation_timeout_s=60)
        await load_only_loopback(session.context)
        try:
            for index, name in enumerate(pages, 1):
                try:
                    await session.goto(f"{base}/{name}")
                    times = await _page(session, repeat)
                except Exception as exc:
                    print(f"  skip {name}: {first_line(exc)}", file=sys.stderr)
                    continue
                for pair in _PAIRS:
                    per_page[pair].append(statistics.median(times[pair]))
                print(f"[{index}/{len(pages)}] {name}", file=sys.stderr)
        finally:
            await session.close()
    if not per_page[_PAIRS[0]]:
        print("no page could be measured")
        return 1
    baseline = per_page[("R", "R")]
    print(f"call order: {len(baseline)} corpus pages, page changed before every call")
    for first, second in _PAIRS:
        ratio = statistics.median(
            time / base for time, base in zip(per_page[first, second], baseline, strict=True)
        )
        print(f"  {second} after {first}: {ratio:.3f}x R after R  (R raw, O ours)")
    return 0


async def _page(session: BrowserSession, repeat: int) -> dict[tuple[str, str], list[float]]:
    page = session.page
    texts: list[str] = []
    await page.aria_snapshot(mode="ai", timeout=60_000)  # warm both paths once
    await _ours(session, texts)
    times: dict[tuple[str, str], list[float]] = {pair: [] for pair in _PAIRS}
    previous = None
    for turn, side in enumerate("RROO" * repeat + "R"):
        await page.evaluate(_CHANGE, f"{side} {turn}")
        elapsed = (await _raw(page))[0] if side == "R" else await _ours(session, texts)
        if previous is not None:
            times[previous, side].append(elapsed)
        previous = side
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=6, help="RROO rounds per page (default 6)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N pages")
    args = parser.parse_args()
    return asyncio.run(_measure(args.repeat, args.limit))


if __name__ == "__main__":
    raise SystemExit(main())
