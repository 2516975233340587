"""The ``@eN`` snapshot the model reads.

Built on Playwright's AI-mode aria snapshot, re-rendered in a denser format:

* **full**: headings, text, form state and every actionable element with its ref, nested;
* **interactive**: only actionable elements, one per line, for acting cheaply;
* **scoped**: either mode under one element (a ref or a CSS selector): a dialog, a form.

Refs come from ``RefRegistry`` (stable, never reused). Inline elements that only a pointer cursor
or an onclick handler make clickable, which Playwright folds into their parent's text, get refs
too. A token cap keeps every actionable element it can: it shortens long text first, then drops
text, then pages the rest, and says what it left out and how to see it.

A snapshot costs Playwright's call and little more. The clickable scan is sent right after
Playwright's call, by the session's router itself (``agent.browser.main_world``): it takes the
short way (Playwright's call goes through Playwright's driver first), so it usually runs in the
page before Playwright's call, in a fraction of a millisecond on a page that changed in one place
(against what it kept from the last scan), and its answer never queues behind the aria text.
What is left is ours alone, after Playwright's call: the parse and the render. Both keep what
did not change: an unchanged page is not parsed or rendered again at all, and a page that
changed in one place is parsed and rendered at that place and the elements around it
(``aria_tree.parse_snapshot_text``, ``render``), its kept lines joined as they are.

The browser's side alone (the scan and Playwright's call, no ref issued) can be had ahead as a
``PageLook`` (:meth:`Snapshotter.look`), and a later ``take`` given it renders it instead of
asking the browser again: the MCP server looks at the page while its client thinks.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from playwright.async_api import Locator, Page

from agent.browser.aria_tree import (
    AriaNode,
    ParsedSnapshot,
    parse_aria_snapshot,
    parse_snapshot_text,
)
from agent.browser.budget import Budget, Line, join_lines
from agent.browser.clickables import PageScan, scan_scope, start_page_scan
from agent.browser.grammar import is_ref, parse_ref
from agent.browser.main_world import MainWorld
from agent.browser.refs import LiveRefs, RefRegistry, document_id, first_css_match
from agent.browser.render import INTERACTIVE_ROLES, SnapshotMode, render_tree
from agent.browser.tokens import TokenCounter, token_counter
from agent.errors import ToolError

__all__ = ["INTERACTIVE_ROLES", "PageLook", "Snapshot", "SnapshotMode", "Snapshotter"]


_Fitted = tuple[str, int | None, bool, int, int]
"""A render fitted into a cap: text, tokens, capped, pages, page number."""


@dataclass(frozen=True)
class _Rendered:
    """A render and everything it was made from: the aria text, then the document, the
    clickables of the page and its frames, mode, depth and the registry's issued count.

    A page that has not changed since the last snapshot (the model looked again, an action
    changed nothing, a capped snapshot's next page) gives the same inputs, and the same inputs
    give the same lines, so they are reused instead of parsed and rendered again; and so are
    the lines fitted into a token cap, which on a big page cost as much as the render.
    """

    raw: str
    inputs: tuple[Any, ...]
    lines: list[Line]
    text: str
    fitted: dict[tuple[int, int], _Fitted] = field(default_factory=dict)  # (cap, page) -> fit


@dataclass(frozen=True)
class PageLook:
    """What the browser gave for a snapshot of a whole page: Playwright's aria text of it and
    the clickable scan, taken together. Refs are issued only when it is rendered (``take``)."""

    page: Page
    raw: str
    scan: PageScan


@dataclass
class Snapshot:
    """A rendered snapshot and what it contains."""

    text: str
    url: str
    title: str
    mode: SnapshotMode
    lines: list[Line] = field(default_factory=list, repr=False, compare=False)  # shared: read only
    counter: TokenCounter | None = field(default=None, repr=False)
    known_tokens: int | None = field(default=None, repr=False)
    capped: bool = False
    pages: int = 1
    page: int = 1
    scope: str | None = None

    def __str__(self) -> str:
        return self.text

    @cached_property
    def refs(self) -> dict[int, str]:
        """Ref number -> its line, over the whole render (all pages of a capped one); made on
        first use, as most snapshots are only read."""
        return {line.ref: line.text.strip() for line in self.lines if line.ref is not None}

    @property
    def tokens(self) -> int:
        """Tokens of ``text``; counted on first use, since an uncapped snapshot needs no count."""
        if self.known_tokens is None:
            self.known_tokens = (self.counter or token_counter()).count(self.text)
        return self.known_tokens


class Snapshotter:
    """Takes snapshots of one page and issues their refs into one registry."""

    def __init__(
        self,
        registry: RefRegistry,
        counter: TokenCounter | None = None,
        *,
        timeout_ms: float = 30_000,
        main_world: MainWorld | None = None,
    ) -> None:
        self.registry = registry
        self.main_world = main_world  # the clickable scan's short way to the page
        # A snapshot of a huge page on a busy machine can take seconds; it gets the navigation
        # budget rather than the short one meant for a click.
        self.timeout_ms = timeout_ms
        self.counter = counter or token_counter()
        self._last_render: _Rendered | None = None
        # The last parse, kept for the next one to take unchanged nodes from (clickables are
        # placed on copies, so its nodes are what the text says).
        self._parsed: ParsedSnapshot | None = None

    async def take(
        self,
        page: Page,
        *,
        mode: SnapshotMode = "full",
        scope: str | None = None,
        max_tokens: int | None = None,
        page_number: int = 1,
        max_depth: int | None = None,
        looked: PageLook | None = None,
    ) -> Snapshot:
        """Snapshot the page (or the element ``scope`` names) and render it; with ``looked``
        (of this page, unscoped), render what the browser gave then instead of asking again."""
        scanning: asyncio.Future[PageScan]
        if looked is not None and looked.page is page and not scope:
            raw, scanning = looked.raw, _done(looked.scan)
        else:
            target: Page | Locator = page
            if scope:
                target = await self._scope_locator(page, scope)
            raw, scanning = await self._ask_browser(target)
        last = self._last_render if self._last_render and self._last_render.raw == raw else None
        parsed = None
        if last is None:
            with _gc_paused():
                parsed = parse_snapshot_text(raw, self._parsed)
        scan = await scanning
        if parsed is not None and self.registry.marks_in(scan.doc):
            # An element a tool acted on may have a new name, and so a new Playwright ref.
            if self.registry.lost_marks(scan.doc, lambda key: f" [ref={key}]" in raw):
                await self.registry.relink(page, scan.doc, _live_refs(parsed.roots))
        inputs = (scan.doc, scan.items, scan.frame_items, mode, max_depth, self.registry.issued)
        if last is None or last.inputs != inputs:
            last = self._render(raw, parsed, scan, mode, max_depth, inputs)
        body, tokens, capped, pages, page_number = self._fit(last, max_tokens, page_number)
        return Snapshot(
            text=body,
            url=page.url,
            title=scan.title,
            mode=mode,
            lines=last.lines,
            counter=self.counter,
            known_tokens=tokens,
            capped=capped,
            pages=pages,
            page=page_number,
            scope=scope,
        )

    async def look(self, page: Page) -> PageLook:
        """The browser's side of a snapshot of the whole page, without a ref issued: what
        ``take(looked=...)`` renders, and what warms the page for the next snapshot (the first
        on a new document compiles Playwright's script and computes every element's style)."""
        raw, scanning = await self._ask_browser(page)
        return PageLook(page, raw, await scanning)

    async def _ask_browser(self, target: Page | Locator) -> tuple[str, asyncio.Future[PageScan]]:
        """Playwright's aria text of ``target``, and its clickable scan, still under way."""
        # The scan's tasks start when this one first waits, which is once Playwright's call
        # has been written out: that call leaves first, with no turn of the event loop lost.
        scanning = _scan_page(target, self.main_world)
        try:
            return await target.aria_snapshot(mode="ai", timeout=self.timeout_ms), scanning
        except BaseException:
            scanning.cancel()
            raise

    def _render(
        self,
        raw: str,
        parsed: ParsedSnapshot | None,
        scan: PageScan,
        mode: SnapshotMode,
        max_depth: int | None,
        inputs: tuple[Any, ...],
    ) -> _Rendered:
        with _gc_paused():
            if parsed is None:
                parsed = parse_snapshot_text(raw, self._parsed)
            lines = _render_tree(
                parsed.roots,
                scan.items,
                scan.frame_items,
                self.registry,
                scan.doc,
                mode,
                max_depth,
            )
        self._parsed = parsed
        # Keyed by the refs issued *after* rendering: an identical render issues none.
        inputs = (*inputs[:-1], self.registry.issued)
        self._last_render = _Rendered(raw, inputs, lines, join_lines(lines))
        return self._last_render

    async def live_pw_refs(self, page: Page) -> LiveRefs:
        """Take a fresh full snapshot and return the Playwright refs it holds, with their
        elements' roles and names (for ref checks)."""
        raw = await page.aria_snapshot(mode="ai", timeout=self.timeout_ms)
        return _live_refs(parse_aria_snapshot(raw))

    async def _scope_locator(self, page: Page, scope: str) -> Locator:
        stripped = scope.strip()
        if stripped.startswith(("@", "ref=")) or is_ref(stripped):
            parse_ref(stripped)  # raises a clear error for a malformed ref
            resolved = await self.registry.resolve(
                page,
                stripped,
                current_doc=lambda: document_id(page, self.main_world),
                refresh=lambda: self.live_pw_refs(page),
            )
            if isinstance(resolved, Locator):
                return resolved
            raise ToolError(f"{scope} is an inline clickable; scope to its container instead.")
        return await first_css_match(page, stripped)

    def _fit(self, rendered: _Rendered, max_tokens: int | None, page_number: int) -> _Fitted:
        text = rendered.text
        if not max_tokens:
            return text, None, False, 1, 1
        fitted = rendered.fitted.get((max_tokens, page_number))
        if fitted is None:
            budget = Budget(self.counter, max_tokens)
            if page_number == 1 and not budget.surely_over(rendered.lines, text):
                total = self.counter.count(text)
                if total <= max_tokens:
                    fitted = text, total, False, 1, 1
            if fitted is None:
                fitted = budget.fit(rendered.lines, page_number)
            rendered.fitted[max_tokens, page_number] = fitted
        return fitted


# The stages of a snapshot, as module names (evals.snapshot_stages times them from outside).
_render_tree = render_tree


def _scan_page(target: Page | Locator, main_world: MainWorld | None) -> asyncio.Future[PageScan]:
    """Start the clickable scan of a page (and its frames) or of one element."""
    if isinstance(target, Page):
        return start_page_scan(target, main_world)
    return asyncio.ensure_future(scan_scope(target))


def _done(scan: PageScan) -> asyncio.Future[PageScan]:
    done: asyncio.Future[PageScan] = asyncio.get_running_loop().create_future()
    done.set_result(scan)
    return done


def _live_refs(roots: list[AriaNode]) -> LiveRefs:
    return {
        node.pw_ref: (node.role, node.name) for root in roots for node in root.walk() if node.pw_ref
    }


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector over one synchronous burst of allocation.

    Parsing and rendering a large page allocates tens of thousands of small objects that all
    live until the snapshot is rendered; the collector, triggered every 700 allocations, walks
    them again and again while they are promoted (about 40% of the parse's time, measured on
    the corpus). They form no garbage cycles, so one collection afterwards loses nothing. No
    await happens inside, so no other task runs while the collector is paused.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
