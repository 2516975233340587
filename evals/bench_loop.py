"""Planner loop overhead per step on a real saved page: everything except waiting for the model.

Run: ``python -m evals.bench_loop [--steps N] [--page NAME]``. A scripted model alternates
``scroll`` and ``get_text`` on the median-size page of the corpus (``AGENT_CORPUS_DIR``), so each
step pays for a snapshot, rendering the observation, eliding history, the tool call and building
the messages. Target: median and p95 overhead <= 150 ms per step.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

from agent.browser.session import BrowserSession
from agent.config import Settings
from agent.loop import run_prompt
from agent.messages import Message, ToolCall, ToolSpec
from agent.models.scripted import ScriptedModel, tool_call
from evals.corpus import corpus_dir, load_only_loopback, serve_corpus

TARGET_MS = 150.0
WARMUP_STEPS = 2


def median_page(directory: Path) -> Path:
    """The page of median file size: a typical page, neither a stub nor a portal."""
    pages = sorted(directory.glob("*.html"), key=lambda p: (p.stat().st_size, p.name))
    if not pages:
        raise SystemExit(f"no .html pages in {directory}; set AGENT_CORPUS_DIR")
    return pages[len(pages) // 2]


def _policy(steps: int) -> ScriptedModel:
    def answer(messages: Sequence[Message], tools: Sequence[ToolSpec]) -> list[ToolCall]:
        number = len(model.requests)
        if number >= steps:
            return [tool_call("done", answer="benchmark finished")]
        if number % 2:
            return [tool_call("scroll", direction="down")]
        return [tool_call("get_text")]

    model = ScriptedModel(answer)
    return model


def _percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


async def _measure(steps: int, page_name: str | None, max_tokens: int) -> int:
    directory = corpus_dir()
    page = directory / page_name if page_name else median_page(directory)
    if not page.is_file():
        raise SystemExit(f"{page} does not exist")
    settings = Settings(max_steps=steps + 1, max_snapshot_tokens=max_tokens)
    with serve_corpus(directory) as base:
        session = await BrowserSession.start(navigation_timeout_s=15)
        try:
            await load_only_loopback(session.context)
            await session.goto(f"{base}/{page.name}")
            result = await run_prompt(
                session, "Read the page.", model=_policy(steps), settings=settings
            )
        finally:
            await session.close()
    if result.stop_reason != "done":
        print(f"the run ended with {result.stop_reason}: {result.output}", file=sys.stderr)
        return 1
    timed = [s for s in result.steps if s.tool_calls and s.tool_calls[0].name != "done"]
    timed = timed[WARMUP_STEPS:]
    if not timed:
        print("too few steps to measure; raise --steps", file=sys.stderr)
        return 1
    overhead = [s.overhead_s * 1000 for s in timed]
    snapshot = [s.snapshot_latency_s * 1000 for s in timed]
    tools = [s.tool_latency_s * 1000 for s in timed]
    rest = [o - a - b for o, a, b in zip(overhead, snapshot, tools, strict=True)]
    by_tool: dict[str, list[float]] = {}
    for step, ms in zip(timed, overhead, strict=True):
        by_tool.setdefault(step.tool_calls[0].name, []).append(ms)
    median, p95 = statistics.median(overhead), _percentile(overhead, 0.95)
    verdict = (
        "OK" if p95 <= TARGET_MS else ("median OK, p95 MISSED" if median <= TARGET_MS else "MISSED")
    )
    print(
        f"loop overhead: {page.name} ({page.stat().st_size // 1024} KiB), {len(timed)} timed steps "
        f"after {WARMUP_STEPS} warm-up, snapshot {timed[0].snapshot_tokens} tokens (cap {max_tokens})"
    )
    print(
        f"  per step (all but the model)   median {median:6.1f} ms   p95 {p95:6.1f} ms   target <= {TARGET_MS:.0f} ms  {verdict}"
    )
    print(
        f"    snapshot                     median {statistics.median(snapshot):6.1f} ms   p95 {_percentile(snapshot, 0.95):6.1f} ms"
    )
    print(
        f"    tool call                    median {statistics.median(tools):6.1f} ms   p95 {_percentile(tools, 0.95):6.1f} ms"
    )
    print(
        f"    observation, history, rest   median {statistics.median(rest):6.1f} ms   p95 {_percentile(rest, 0.95):6.1f} ms"
    )
    for name, values in sorted(by_tool.items()):
        print(
            f"    steps with {name:18s} median {statistics.median(values):6.1f} ms   ({len(values)} steps)"
        )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="tool steps to run (default 30)")
    parser.add_argument("--page", default=None, help="a corpus page name instead of the median")
    parser.add_argument(
        "--max-tokens", type=int, default=6000, help="snapshot budget (default 6000)"
    )
    args = parser.parse_args()
    return asyncio.run(_measure(args.steps, args.page, args.max_tokens))


if __name__ == "__main__":
    raise SystemExit(main())
