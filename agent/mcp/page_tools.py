"""Playwright MCP's page tools, under its names and argument names, on our session and tools.

Navigation goes through the planner's own ``navigate`` and ``go_back``; snapshots are ours (our
format, refs and token budget) with Playwright MCP's ``target`` and ``depth`` plus our extras:
``mode``, ``max_tokens``, ``page``, and ``mode="changes"``, which shows only what changed since
the client's last snapshot. Like the element tools, every one is a typed function whose schema
``@tool`` generates.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING, Literal

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from agent.errors import ToolError, first_line
from agent.mcp.changes import snapshot_changes
from agent.mcp.navigations import navigation_watch
from agent.mcp.warmup import navigating, prepare_snapshot, prepared_look
from tools import page_actions
from tools.base import ToolOutcome, tool
from tools.navigation import go_back, navigate
from tools.reading import read_text
from tools.targets import found_by

if TYPE_CHECKING:
    from playwright.async_api import Page

    from agent.browser.snapshot import Snapshot, SnapshotMode
    from tools.context import ToolContext

__all__ = [
    "MAX_RESULT_CHARS",
    "browser_evaluate",
    "browser_get_text",
    "browser_navigate",
    "browser_navigate_back",
    "browser_snapshot",
    "browser_tabs",
    "browser_take_screenshot",
    "browser_wait_for",
]

MAX_RESULT_CHARS = 20_000
"""Longest ``browser_evaluate`` result returned; a page can hand back megabytes."""


@tool
async def browser_navigate(ctx: ToolContext, url: str) -> str | ToolOutcome:
    """Open a URL in the current tab.

    Args:
        url: The URL to open: absolute http(s), or relative to the current page.
    """
    opened = await navigate.function(ctx, url)
    prepare_snapshot(ctx)  # the client asks for one next: a new page's first is the dearest
    return opened


@tool
async def browser_navigate_back(ctx: ToolContext) -> str | ToolOutcome:
    """Go back to the previous page in this tab's history."""
    went = await go_back.function(ctx)
    prepare_snapshot(ctx)
    return went


@tool
async def browser_snapshot(
    ctx: ToolContext,
    target: str | None = None,
    depth: int | None = None,
    mode: Literal["full", "interactive", "changes"] = "full",
    max_tokens: int | None = None,
    page: int = 1,
) -> str:
    """Capture the page as text: its content and every element you can act on, each with a ref
    (@e3) to pass as target. Better than a screenshot for acting on the page.

    Args:
        target: Snapshot only this part of the page: a ref like @e7 (a dialog, a form) or a
            selector.
        depth: Show elements nested at most this deep.
        mode: full shows text and structure; interactive lists only the elements you can act
            on; changes shows only the lines that changed since your last snapshot of this
            page (the whole snapshot when the page is new).
        max_tokens: Token cap of this snapshot (default: the server's, 4000 unless set); past
            it the snapshot is paged and says how to see the rest.
        page: When a capped snapshot says there are more pages, the page to show.
    """
    if page < 1:
        raise ToolError("page starts at 1.")
    if max_tokens is not None and max_tokens < 100:
        raise ToolError("max_tokens must be at least 100.")
    if depth is not None and depth < 1:
        raise ToolError("depth must be at least 1.")
    previous = ctx.last_snapshot
    wanted = (previous.mode if previous else "full") if mode == "changes" else mode
    shot = await _take(ctx, wanted, target, depth, max_tokens, page)
    if isinstance(shot, str):
        return shot
    header = _page_line(ctx, shot)
    if mode == "changes":
        changes = snapshot_changes(previous, shot) if previous else None
        if changes is not None and len(changes) < len(shot.text):
            return f"{header}\n{changes}"
        header += (
            "\n(most of it changed since your last snapshot, so here it is whole)"
            if changes is not None
            else "\n(no earlier snapshot of this page to compare with, so here it is whole)"
        )
    return f"{header}\n{shot.text}" if shot.text else f"{header}\n(nothing to show)"


async def _take(
    ctx: ToolContext,
    mode: SnapshotMode,
    target: str | None,
    depth: int | None,
    max_tokens: int | None,
    page: int,
) -> Snapshot | str:
    """The snapshot, or what to answer instead while the page waits for a navigation."""
    looked = None if target else prepared_look()  # taken while this call was on its way
    for _ in range(2):  # again when a navigation started and was over at once
        if navigating := _navigating(ctx):
            return navigating
        shot = await navigation_watch(ctx.page).unless_navigating(
            ctx.snapshot(
                mode=mode,
                scope=target,
                page_number=page,
                max_depth=depth,
                max_tokens=max_tokens,
                looked=looked,
            )
        )
        if shot is not None:
            return shot
        looked = None  # of the document the page is leaving
    return _navigating(ctx) or "The page keeps navigating: take a snapshot again in a moment."


def _navigating(ctx: ToolContext) -> str | None:
    """What to answer instead of a snapshot while the page's navigation waits for its server:
    Chromium would hold any look at the page until the response (``agent.mcp.navigations``)."""
    pending = navigating(ctx)
    if pending is None:
        return None
    waited = time.monotonic() - pending.started
    return (
        f"page: {ctx.page.url}\n(the page is navigating to {pending.url}: no response for "
        f"{waited:.1f} s yet. Its content shows once the server answers: call browser_snapshot "
        "again in a moment, or browser_wait_for the text you expect.)"
    )


def _page_line(ctx: ToolContext, shot: Snapshot) -> str:
    """``page: URL "Title"``, and which tab when there are several: where the snapshot is of."""
    line = f'page: {shot.url} "{shot.title}"'
    tabs = ctx.session.tabs
    if len(tabs) > 1:
        current = tabs.index(ctx.page) if ctx.page in tabs else -1
        line += f" (tab {current} of {len(tabs)} open tabs)"
    return line


@tool
async def browser_get_text(ctx: ToolContext, target: str | None = None, offset: int = 0) -> str:
    """Read the visible text of an element, or of the whole page (a field's text is its value).

    Args:
        target: The element's ref (like @e3) or a selector matching one element; omit for the
            whole page.
        offset: Start at this character, to read on in a long text.
    """
    found = await found_by(ctx, target) if target else None
    element = found.element if found is not None else None
    return await read_text(ctx.session, element, offset, reader="browser_get_text")


@tool
async def browser_wait_for(
    ctx: ToolContext,
    time: float | None = None,
    text: str | None = None,
    textGone: str | None = None,
    timeout: float = 5.0,  # noqa: ASYNC109 - a tool argument, named as clients expect
) -> str:
    """Wait for text to appear or disappear, or for some seconds to pass.

    Args:
        time: Seconds to wait, at most 30.
        text: Text to wait for until it is visible.
        textGone: Text to wait for until it is no longer visible.
        timeout: How long to wait for text at most, in seconds (up to 30).
    """
    if time is None and not text and not textGone:
        raise ToolError("browser_wait_for needs time, text or textGone.")
    done: list[str] = []
    if time is not None:
        seconds = min(max(time, 0.0), 30.0)
        await asyncio.sleep(seconds)
        done.append(f"waited {seconds:g} s")
    timeout_ms = min(max(timeout, 0.1), 30.0) * 1000
    checks: tuple[tuple[str | None, Literal["visible", "hidden"]], ...] = (
        (text, "visible"),
        (textGone, "hidden"),
    )
    for wanted, state in checks:
        if not wanted:
            continue
        try:
            await page_actions.wait_for_text(
                ctx, wanted, gone=state == "hidden", timeout_ms=timeout_ms
            )
        except PlaywrightTimeoutError as exc:
            how = "appear" if state == "visible" else "disappear"
            raise ToolError(
                f"Waited {timeout_ms / 1000:g} s for {wanted!r} to {how}; it did not. "
                "Take a snapshot to see what the page shows."
            ) from exc
        done.append(f"{wanted!r} is {'visible' if state == 'visible' else 'gone'}")
    return "; ".join(done)


@tool
async def browser_take_screenshot(
    ctx: ToolContext,
    type: Literal["png", "jpeg", "webp"] = "png",
    target: str | None = None,
    element: str | None = None,
    fullPage: bool = False,
    scale: Literal["css", "device"] = "css",
) -> ToolOutcome:
    """Take a screenshot of the page or of one element. To act on the page, use
    browser_snapshot: refs come from snapshots, not screenshots.

    Args:
        type: The image format.
        target: Screenshot only this element: its ref (like @e3) or a selector matching one
            element.
        element: A human-readable description of the element (optional).
        fullPage: The whole scrollable page instead of the visible viewport; not with target.
        scale: css gives an image sized in CSS pixels (smaller); device one in device pixels.
    """
    if fullPage and target:
        raise ToolError("fullPage cannot be combined with target: choose one.")
    found = await found_by(ctx, target) if target else None
    try:
        image = await page_actions.screenshot(
            ctx, found, type=type, full_page=fullPage, scale=scale
        )
    except PlaywrightError as exc:
        raise ToolError(f"Could not take the screenshot: {first_line(exc)}") from exc
    what = found.label if found else ("the whole page" if fullPage else "the viewport")
    return ToolOutcome(
        f"screenshot of {what} of {ctx.page.url} ({type}, {len(image.data)} bytes)",
        images=(image,),
    )


@tool
async def browser_evaluate(
    ctx: ToolContext, function: str, target: str | None = None, element: str | None = None
) -> str:
    """Run a JavaScript function in the page, or on one element, and return its result as JSON.

    Args:
        function: The function, as () => { ... }, or (element) => { ... } with target.
        target: The element to pass to the function: its ref (like @e3) or a selector matching
            one element.
        element: A human-readable description of the element (optional).
    """
    found = await found_by(ctx, target) if target else None
    value = await page_actions.evaluate(ctx, function, found)
    text = "undefined" if value is None else json.dumps(value, ensure_ascii=False, default=str)
    if len(text) > MAX_RESULT_CHARS:
        text = (
            text[:MAX_RESULT_CHARS]
            + f"\n[result cut at {MAX_RESULT_CHARS} of {len(text)} characters: return less]"
        )
    return text


@tool
async def browser_tabs(
    ctx: ToolContext,
    action: Literal["list", "new", "close", "select"],
    index: int | None = None,
    url: str | None = None,
) -> str | ToolOutcome:
    """List, open, close or select browser tabs.

    Args:
        action: What to do.
        index: The tab to close or select, from the list (0 is the first); close without it
            closes the current tab.
        url: For new: the URL to open in the new tab.
    """
    session = ctx.session
    if action == "list":
        return await _tab_list(ctx)
    if action == "new":
        await page_actions.new_tab(ctx)
        if url:
            opened = await navigate.function(ctx, url)
            return f"opened a new tab, now the current one; {opened}"
        return "opened a new blank tab, now the current one"
    tabs = session.tabs
    if index is None and action == "select":
        raise ToolError("select needs the index of a tab; see browser_tabs with action list.")
    chosen = session.page if index is None else _tab_at(tabs, index)
    if action == "select":
        await page_actions.select_tab(ctx, chosen)
        return f'selected tab {tabs.index(chosen)}: {chosen.url} "{await chosen.title()}"'
    closed = tabs.index(chosen)
    await page_actions.close_tab(ctx, chosen, keep_one=True)  # the session keeps a page
    return f"closed tab {closed}; now on {session.page.url}"


def _tab_at(tabs: list[Page], index: int) -> Page:
    if not 0 <= index < len(tabs):
        raise ToolError(f"There is no tab {index}: {len(tabs)} tab(s) are open, from 0.")
    return tabs[index]


async def _tab_list(ctx: ToolContext) -> str:
    lines = []
    for number, tab in enumerate(ctx.session.tabs):
        current = " (current)" if tab is ctx.page else ""
        lines.append(f'{number}{current}: {tab.url} "{await tab.title()}"')
    return "\n".join(lines)
