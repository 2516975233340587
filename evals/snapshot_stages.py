"""Where a snapshot's time goes: each stage of ``Snapshotter.take`` timed from the outside.

The library is left as it is: while a :class:`StageClock` is on, the snapshot module's stage
functions (Playwright's aria call, the clickable scan, the parse, the render, the relink) are
wrapped to note when each started and ended, relative to the call. The bench turns it on only
for calls it does not time, so the ratios it prints are of the unwrapped code.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from agent.browser import snapshot as snapshot_module
from agent.browser.refs import RefRegistry

__all__ = ["STAGES", "StageClock", "summarise"]

# Stage -> the names it may have in agent.browser.snapshot (the first ones are today's; names
# that are missing are skipped, so the same clock times older and newer code alike).
STAGES: dict[str, tuple[str, ...]] = {
    "scan": ("_scan_clickables", "_scan_frames", "_scan_page"),
    "parse": ("parse_aria_snapshot", "parse_snapshot_text"),
    "render": ("_render_tree",),
}


class StageClock:
    """Notes ``(stage, start, end)`` for one snapshot call at a time (seconds since its start)."""

    def __init__(self) -> None:
        self.origin = 0.0
        self.marks: list[tuple[str, float, float]] = []

    def start(self) -> None:
        self.marks = []
        self.origin = time.perf_counter()

    def note(self, stage: str, began: float) -> None:
        self.marks.append((stage, began - self.origin, time.perf_counter() - self.origin))

    def timings(self, total: float) -> dict[str, float]:
        """This call's figures (ms): when Playwright's call and the scan returned, how long the
        parse, render and relink took, and the total."""
        out: dict[str, float] = {"total": total * 1000}
        for stage in ("aria", "scan"):
            ends = [end for name, _, end in self.marks if name == stage]
            if ends:
                out[f"{stage} returned"] = max(ends) * 1000
        for stage in ("parse", "render", "relink"):
            out[stage] = sum(end - start for name, start, end in self.marks if name == stage) * 1000
        return out

    def _wrap(self, stage: str, function: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                began = time.perf_counter()
                try:
                    return await function(*args, **kwargs)
                finally:
                    self.note(stage, began)

            return timed_async

        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            result = function(*args, **kwargs)
            if isinstance(result, asyncio.Future):  # a stage started here, ending later
                result.add_done_callback(lambda _: self.note(stage, began))
            else:
                self.note(stage, began)
            return result

        return timed

    @contextmanager
    def on(self, page: Any) -> Iterator[None]:
        """Wrap the stages (and ``page.aria_snapshot``) until the block ends."""
        saved: list[tuple[Any, str, Any]] = []
        for stage, names in STAGES.items():
            for name in names:
                if hasattr(snapshot_module, name):
                    saved.append((snapshot_module, name, getattr(snapshot_module, name)))
                    setattr(
                        snapshot_module, name, self._wrap(stage, getattr(snapshot_module, name))
                    )
        saved.append((RefRegistry, "relink", RefRegistry.relink))
        RefRegistry.relink = self._wrap("relink", RefRegistry.relink)  # type: ignore[method-assign]
        page.aria_snapshot = self._wrap("aria", page.aria_snapshot)
        try:
            yield
        finally:
            del page.aria_snapshot  # the instance attribute; the class's method shows again
            for owner, name, original in reversed(saved):
                setattr(owner, name, original)


def summarise(per_page: list[dict[str, float]]) -> list[str]:
    """Lines of the breakdown: the median over pages of each figure (each page's own median)."""
    keys = ["raw", "total", "aria returned", "scan returned", "parse", "render", "relink"]
    medians = {
        key: statistics.median(page[key] for page in per_page)
        for key in keys
        if all(key in page for page in per_page)
    }
    raw = medians["raw"]
    labels = {
        "raw": "Playwright's raw call alone",
        "total": "ours, whole call",
        "aria returned": "  Playwright's call inside ours returned at",
        "scan returned": "  clickable scan returned at",
        "parse": "  parse (Python)",
        "render": "  render (Python)",
        "relink": "  relink of marked elements",
    }
    lines = []
    for key, value in medians.items():
        share = f"{value / raw * 100:6.1f}% of raw" if key != "raw" else ""
        lines.append(f"  {labels[key]:44s} {value:7.2f} ms  {share}")
    after = statistics.median(page["total"] - page.get("aria returned", 0.0) for page in per_page)
    lines.append(f"  {'  after Playwright call returned (ours alone)':44s} {after:7.2f} ms")
    return lines
