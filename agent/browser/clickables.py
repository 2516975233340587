"""The scan for inline clickables (``js/clickables.js``) of a page and its frames, from Python.

One evaluate in the page scans its document and every frame the page's own script can reach
(the same origin: ad slots written into about:blank frames, srcdoc frames), each against what it
kept from the last scan. Only a frame no script of its parent can reach (another origin, a
sandbox) is scanned in its own context, and that one scan covers the frames it reaches in turn.
So a page with twenty same-origin ad frames costs one round trip, not twenty-one.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Frame, Locator, Page

from agent.browser import page_js
from agent.browser.main_world import MainWorld, MainWorldUnavailable
from agent.browser.refs import frame_clickable_key

__all__ = ["PageScan", "scan_scope", "start_page_scan"]

_FRAME_SCAN_TIMEOUT_S = 2.0
_ERROR_PAGES = "chrome-error:"
_INHERITING = ("about:blank", "about:srcdoc", "")  # documents of their parent's origin


@dataclass
class PageScan:
    """What a scan found: the document's id and title, its clickables and its frames'."""

    doc: float
    title: str
    items: list[dict[str, Any]]
    frame_items: list[dict[str, Any]] = field(default_factory=list)


async def scan_scope(target: Locator) -> PageScan:
    """The clickables under one element (a scoped snapshot: its frames are not scanned)."""
    scan = await target.evaluate(page_js.CLICKABLES)
    return PageScan(float(scan["doc"]), str(scan.get("title") or ""), list(scan["items"]))


def start_page_scan(page: Page, main_world: MainWorld | None = None) -> asyncio.Future[PageScan]:
    """Start the scan of a page and of all its frames (but error pages), with frame keys; the
    page's own document (and the frames it reaches) through ``main_world`` when given.

    The evaluates start as tasks here, so they are sent once the caller first waits: after a
    call the caller has already written out (Playwright's snapshot), though the one through
    ``main_world`` may reach the page first, not going through Playwright's driver.
    """
    apart = _frames_apart(page)
    main = _quiet(asyncio.ensure_future(_scan_main(page, main_world)))
    separate = [_quiet(asyncio.ensure_future(_scan_frame(frame))) for _, frame in apart]
    return asyncio.ensure_future(_gather_page_scan(page, main, apart, separate))


async def _gather_page_scan(
    page: Page,
    main_call: asyncio.Future[Any],
    apart: list[tuple[tuple[int, ...], Frame]],
    separate_calls: list[asyncio.Future[dict[str, Any] | None]],
) -> PageScan:
    main, *separate = await asyncio.gather(main_call, *separate_calls)
    # A frame whose scan failed (detached, unresponsive) is not looked for again.
    reached = int(main["reached"]) + sum(
        1 + int(scan["reached"]) if scan else 1 for scan in separate
    )
    errors = sum(1 for frame in page.frames if frame.url.startswith(_ERROR_PAGES))
    if reached + errors < len(page.frames) - 1:
        # A frame neither the page nor a frame of another origin reaches (a sandboxed one, or
        # one that arrived meanwhile): scan every frame on its own; each document's registry
        # nonce tells the ones already scanned.
        apart = [
            (path, frame)
            for path, frame in _child_frames(page.main_frame)
            if not frame.url.startswith(_ERROR_PAGES)
        ]
        separate = list(await asyncio.gather(*(_scan_frame(frame) for _, frame in apart)))
    frame_items: list[dict[str, Any]] = []
    seen: set[str] = set()
    _take_frames((), main["frames"], frame_items, seen)
    for (path, _), scan in zip(apart, separate, strict=True):
        if scan:
            _take_frames(path, [scan, *scan["frames"]], frame_items, seen)
    return PageScan(
        float(main["doc"]), str(main.get("title") or ""), list(main["items"]), frame_items
    )


_SCAN_KEYS = frozenset({"doc", "items", "frames", "reached"})


async def _scan_main(page: Page, main_world: MainWorld | None) -> Any:
    """The page's own scan: through ``main_world`` by the function the document keeps (given
    it on the first scan), so each call sends a line, not the script; else through Playwright.

    The function is a global of the page (as the scan's registry is), so the page can replace
    it: an answer not shaped like a scan is not used, and Playwright runs the script itself.
    """
    if main_world is not None:
        try:
            scan = await main_world.evaluate(page, page_js.CLICKABLES_OF_PAGE)
            if scan is None:
                scan = await main_world.evaluate(page, page_js.CLICKABLES_OF_PAGE_FIRST)
            if isinstance(scan, dict) and _SCAN_KEYS <= scan.keys():
                return scan
        except MainWorldUnavailable:
            pass  # Playwright's evaluate runs the same scan, or says why it cannot
    return await page.evaluate(page_js.CLICKABLES, None)


def _quiet(task: asyncio.Future[Any]) -> asyncio.Future[Any]:
    """A task whose failure is not reported as never retrieved when nobody waits for it any
    more (the snapshot it was for failed first)."""
    task.add_done_callback(lambda done: done.cancelled() or done.exception())
    return task


def _take_frames(
    path: tuple[int, ...],
    scans: list[dict[str, Any]],
    into: list[dict[str, Any]],
    seen: set[str],
) -> None:
    """Add the items of frame documents scanned from the frame at ``path``, once each."""
    for scan in scans:
        nonce = str(scan["nonce"])
        if nonce in seen:
            continue
        seen.add(nonce)
        for item in scan["items"]:
            into.append(
                {**item, "id": frame_clickable_key(path, nonce, int(item["id"])), "in_frame": True}
            )


def _origin(url: str) -> str | None:
    """The origin of a frame's URL; None for a document that takes its parent's."""
    if url in _INHERITING or url.startswith("about:"):
        return None
    parts = urlsplit(url.removeprefix("blob:"))
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else url


def _frames_apart(page: Page) -> list[tuple[tuple[int, ...], Frame]]:
    """Frames of another origin than their parent (no script of the parent reaches them), but
    error pages: each is scanned in its own context."""
    apart = []

    def visit(frame: Frame, path: tuple[int, ...], origin: str | None) -> None:
        for index, child in enumerate(frame.child_frames):
            child_origin = _origin(child.url) or origin
            if child.url.startswith(_ERROR_PAGES):
                continue
            if child_origin != origin:
                apart.append(((*path, index), child))
            visit(child, (*path, index), child_origin)

    visit(page.main_frame, (), _origin(page.main_frame.url))
    return apart


def _child_frames(frame: Frame, path: tuple[int, ...] = ()) -> list[tuple[tuple[int, ...], Frame]]:
    found = []
    for index, child in enumerate(frame.child_frames):
        found.append(((*path, index), child))
        found.extend(_child_frames(child, (*path, index)))
    return found


async def _scan_frame(frame: Frame) -> dict[str, Any] | None:
    """One frame's scan (and of the frames it reaches), or None when it cannot be had."""
    try:
        # An ad frame that never finishes loading must not hold the whole snapshot up.
        async with asyncio.timeout(_FRAME_SCAN_TIMEOUT_S):
            return dict(await frame.evaluate(page_js.CLICKABLES, None))
    except (PlaywrightError, TimeoutError):
        return None  # detached or unresponsive: its aria content still shows, without these
