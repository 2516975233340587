"""The ``@eN`` snapshot the model reads.

Built on Playwright's AI-mode aria snapshot, re-rendered in a denser format:

* **full**: headings, text, form state and every actionable element with its ref, nested;
* **interactive**: only actionable elements, one per line, for acting cheaply;
* **scoped**: either mode under one element (a ref or a CSS selector): a dialog, a form.

Refs come from ``RefRegistry`` (stable, never reused). Inline elements that only a pointer cursor
or an onclick handler make clickable, which Playwright folds into their parent's text, get refs
too. A token cap keeps every actionable element it can: it shortens long text first, then drops
text, then pages the rest, and says what it left out and how to see it.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Frame, Locator, Page

from agent.browser import page_js
from agent.browser.aria_tree import AriaNode, parse_aria_snapshot
from agent.browser.budget import Budget, Line, join_lines
from agent.browser.grammar import (
    element_line,
    heading_line,
    is_ref,
    parse_ref,
    row_line,
)
from agent.browser.refs import (
    LiveRefs,
    RefRegistry,
    document_id,
    first_css_match,
    frame_clickable_key,
)
from agent.browser.tokens import TokenCounter, token_counter
from agent.errors import ToolError

__all__ = ["INTERACTIVE_ROLES", "Snapshot", "SnapshotMode", "Snapshotter"]

SnapshotMode = Literal["full", "interactive"]

INTERACTIVE_ROLES = frozenset(
    {
        "button", "link", "textbox", "searchbox", "checkbox", "radio", "combobox", "listbox",
        "option", "menuitem", "menuitemcheckbox", "menuitemradio", "tab", "switch", "slider",
        "spinbutton", "treeitem", "gridcell", "columnheader", "scrollbar",
    }
)  # fmt: skip
# Containers worth a ref so the model can scope a snapshot to them or read them whole.
_SCOPE_ROLES = frozenset(
    {"dialog", "alertdialog", "form", "iframe", "table", "navigation", "main", "region", "article"}
)
# Unnamed wrappers that add depth but no meaning: their children move up a level.
_TRANSPARENT_ROLES = frozenset({"generic", "group", "none", "presentation", "list", "paragraph"})
_NAMED_BY_CONTENT = frozenset({"link", "button", "tab", "menuitem", "option", "treeitem", "cell"})
_STATE_ATTRS = ("checked", "disabled", "expanded", "selected", "pressed", "level", "required")
_MAX_OPTIONS = 30  # a dropdown's options listed on its line; the rest are counted
_FRAME_SCAN_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class _Rendered:
    """A render and everything it was made from: the aria text, then the document, the
    clickables of the page and its frames, mode, depth and the registry's issued count.

    A page that has not changed since the last snapshot (the model looked again, an action
    changed nothing, a capped snapshot's next page) gives the same inputs, and the same inputs
    give the same lines, so they are reused instead of parsed and rendered again.
    """

    raw: str
    inputs: tuple[Any, ...]
    lines: list[Line]
    text: str
    refs: dict[int, str]  # ref number -> its line


@dataclass
class Snapshot:
    """A rendered snapshot and what it contains."""

    text: str
    url: str
    title: str
    mode: SnapshotMode
    refs: dict[int, str] = field(default_factory=dict)  # ref number -> its line
    counter: TokenCounter | None = field(default=None, repr=False)
    known_tokens: int | None = field(default=None, repr=False)
    capped: bool = False
    pages: int = 1
    page: int = 1
    scope: str | None = None

    def __str__(self) -> str:
        return self.text

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
    ) -> None:
        self.registry = registry
        # A snapshot of a huge page on a busy machine can take seconds; it gets the navigation
        # budget rather than the short one meant for a click.
        self.timeout_ms = timeout_ms
        self.counter = counter or token_counter()
        self._last_render: _Rendered | None = None

    async def take(
        self,
        page: Page,
        *,
        mode: SnapshotMode = "full",
        scope: str | None = None,
        max_tokens: int | None = None,
        page_number: int = 1,
        max_depth: int | None = None,
    ) -> Snapshot:
        """Snapshot the page (or the element ``scope`` names) and render it."""
        target: Page | Locator = page
        if scope:
            target = await self._scope_locator(page, scope)
        # The browser runs these one after another; parsing the aria snapshot while it runs the
        # clickable scan keeps our cost over Playwright's own call small.
        aria = asyncio.ensure_future(target.aria_snapshot(mode="ai", timeout=self.timeout_ms))
        rest = asyncio.gather(
            _scan_clickables(target),
            _scan_frames(target) if isinstance(target, Page) else _no_items(),
        )
        try:
            raw = await aria
        except BaseException:
            rest.cancel()
            raise
        last = self._last_render if self._last_render and self._last_render.raw == raw else None
        roots = None
        if last is None:
            # Parsing overlaps the clickable scan that the browser runs after the aria snapshot.
            with _gc_paused():
                roots = parse_aria_snapshot(raw)
        scan, frame_items = await rest
        if last is None and self.registry.marks_in(float(scan["doc"])):
            # An element a tool acted on may have a new name, and so a new Playwright ref.
            assert roots is not None
            await self.registry.relink(page, float(scan["doc"]), _live_refs(roots))
        inputs = (scan["doc"], scan["items"], frame_items, mode, max_depth, self.registry.issued)
        if last is None or last.inputs != inputs:
            with _gc_paused():
                if roots is None:
                    roots = parse_aria_snapshot(raw)
                lines = _render_tree(roots, scan, frame_items, self.registry, mode, max_depth)
            # Keyed by the refs issued *after* rendering: an identical render issues none.
            inputs = (*inputs[:-1], self.registry.issued)
            refs = {line.ref: line.text.strip() for line in lines if line.ref is not None}
            last = self._last_render = _Rendered(raw, inputs, lines, join_lines(lines), refs)
        body, tokens, capped, pages, page_number = self._fit(last, max_tokens, page_number)
        snapshot = Snapshot(
            text=body,
            url=page.url,
            title=str(scan.get("title") or ""),
            mode=mode,
            refs=dict(last.refs),
            counter=self.counter,
            known_tokens=tokens,
            capped=capped,
            pages=pages,
            page=page_number,
            scope=scope,
        )
        return snapshot

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
                current_doc=lambda: document_id(page),
                refresh=lambda: self.live_pw_refs(page),
            )
            if isinstance(resolved, Locator):
                return resolved
            raise ToolError(f"{scope} is an inline clickable; scope to its container instead.")
        return await first_css_match(page, stripped)

    def _fit(
        self, rendered: _Rendered, max_tokens: int | None, page_number: int
    ) -> tuple[str, int | None, bool, int, int]:
        text = rendered.text
        if not max_tokens:
            return text, None, False, 1, 1
        total = self.counter.count(text)
        if total <= max_tokens and page_number == 1:
            return text, total, False, 1, 1
        return Budget(self.counter, max_tokens).fit(rendered.lines, page_number)


def _render_tree(
    roots: list[AriaNode],
    scan: dict[str, Any],
    frame_items: list[dict[str, Any]],
    registry: RefRegistry,
    mode: SnapshotMode,
    max_depth: int | None,
) -> list[Line]:
    """Place the scanned clickables in the parsed tree and render it into lines with refs."""
    items = list(scan["items"])
    if items or frame_items:
        framed = _iframe_descendants(roots)
        # A frame's clickables need some iframe text to sit in; without any (ads, trackers,
        # failed embeds) they would only pile up at the end of the snapshot.
        if frame_items and any(node.text or node.name for node in framed):
            items.extend(frame_items)
        _attach_clickables(roots, items, framed)
    return _Renderer(registry, float(scan["doc"]), mode, max_depth).render(roots)


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


async def _scan_clickables(target: Page | Locator) -> dict[str, Any]:
    if isinstance(target, Page):
        result = await target.evaluate(page_js.CLICKABLES, None)
    else:
        result = await target.evaluate(page_js.CLICKABLES)
    return dict(result)


async def _scan_frames(page: Page) -> list[dict[str, Any]]:
    """The clickables of every iframe but error pages, scanned in parallel (alongside the aria
    snapshot, so a page's many ad frames cost little time)."""
    scans = await asyncio.gather(
        *(
            _scan_frame(path, frame)
            for path, frame in _child_frames(page.main_frame)
            if not frame.url.startswith("chrome-error:")
        )
    )
    return [item for items in scans for item in items]


async def _no_items() -> list[dict[str, Any]]:
    return []


def _child_frames(frame: Frame, path: tuple[int, ...] = ()) -> list[tuple[tuple[int, ...], Frame]]:
    found = []
    for index, child in enumerate(frame.child_frames):
        found.append(((*path, index), child))
        found.extend(_child_frames(child, (*path, index)))
    return found


async def _scan_frame(path: tuple[int, ...], frame: Frame) -> list[dict[str, Any]]:
    """The clickables of one iframe, keyed by the frame's place and document."""
    try:
        # An ad frame that never finishes loading must not hold the whole snapshot up.
        async with asyncio.timeout(_FRAME_SCAN_TIMEOUT_S):
            scan = await frame.evaluate(page_js.CLICKABLES, None)
    except (PlaywrightError, TimeoutError):
        return []  # detached or unresponsive: its aria content still shows, without these
    items = list(scan["items"])
    for item in items:
        item["id"] = frame_clickable_key(path, float(scan["doc"]), int(item["id"]))
        item["in_frame"] = True
    return items


def _norm(text: str) -> str:
    return " ".join(text.split())


def _attach_clickables(
    roots: list[AriaNode], items: list[dict[str, Any]], framed: list[AriaNode]
) -> None:
    """Place each inline clickable under the text run that contains it.

    The text run is found by the clickable's own text and the text of its enclosing block, so
    that a word that also appears earlier (say, in an instruction) lands in the right place;
    ``framed`` (the nodes inside iframes) keeps a frame's clickables in frame content and the
    page's out of it.
    """
    if not items:
        return
    text_nodes = [
        node
        for root in roots
        for node in root.walk()
        if node.role not in INTERACTIVE_ROLES
        and (node.text or (node.name and node.role in _TRANSPARENT_ROLES))
    ]
    in_frames = {id(node) for node in framed}
    normalised = [_norm(node.text or node.name) for node in text_nodes]
    position = 0
    leftovers: list[AriaNode] = []
    for item in items:
        wanted = _norm(str(item["text"]))
        context = _norm(str(item.get("context", "")))[:40]
        clickable = AriaNode(role="clickable", name=wanted, attrs={"clickable": str(item["id"])})
        # A frame's clickable belongs in some iframe's content, a page's outside all of them.
        in_frame = bool(item.get("in_frame"))
        candidates = [
            i
            for i in range(len(text_nodes))
            if wanted in normalised[i] and (id(text_nodes[i]) in in_frames) == in_frame
        ]
        in_context = [i for i in candidates if context and context[:20] in normalised[i]]
        after = [i for i in (in_context or candidates) if i >= position]
        fallback = in_context or candidates
        chosen = after[0] if after else (fallback[0] if fallback else None)
        if chosen is None:
            leftovers.append(clickable)
            continue
        host = text_nodes[chosen]
        position = chosen
        if normalised[chosen] == wanted and not host.children:
            # The whole text run is the clickable: show it once, as the clickable.
            host.role, host.name, host.text = "clickable", wanted, ""
            host.attrs = clickable.attrs
            normalised[chosen] = ""
        else:
            host.children.append(clickable)
    if leftovers and roots:
        roots[-1].children.extend(leftovers)


def _iframe_descendants(roots: list[AriaNode]) -> list[AriaNode]:
    return [
        inner
        for root in roots
        for node in root.walk()
        if node.role == "iframe"
        for child in node.children
        for inner in child.walk()
    ]


class _Renderer:
    def __init__(
        self, registry: RefRegistry, doc: float, mode: SnapshotMode, max_depth: int | None
    ) -> None:
        self.registry = registry
        self.doc = doc
        self.mode = mode
        self.max_depth = max_depth
        self.lines: list[Line] = []

    def render(self, roots: list[AriaNode]) -> list[Line]:
        for root in roots:
            _tidy(root)
        self._children(roots, 0)
        return self.lines

    def _children(self, nodes: list[AriaNode], depth: int) -> None:
        for node in nodes:
            self._node(node, depth)

    def _node(self, node: AriaNode, depth: int) -> None:
        # Called once per element of the page: the hot loop of rendering, kept to plain lookups.
        if self.max_depth is not None and depth > self.max_depth:
            return
        role = node.role
        pw_ref = node.attrs.get("ref")
        pointer = pw_ref is not None and node.attrs.get("cursor") == "pointer"
        actionable = role in INTERACTIVE_ROLES or role == "clickable" or pointer
        ref: int | None = None
        if role == "clickable":
            ref = self.registry.issue(
                self.doc, "clickable", node.attrs["clickable"], "clickable", node.name
            )
        elif pw_ref is not None and (actionable or role in _SCOPE_ROLES):
            ref = self.registry.issue(self.doc, "aria", pw_ref, role, node.name)
        if self.mode == "interactive":
            if actionable and ref is not None:
                self.lines.append(Line(0, self._describe(node, ref, flat=True), "ref", ref))
            self._children(node.children, depth)
            return
        if role == "text":
            self.lines.append(Line(depth, node.text, "text"))
            self._children(node.children, depth + 1)
            return
        if role in ("img", "image") and not node.name and ref is None:
            return
        if ref is None and not node.name and role in _TRANSPARENT_ROLES and not actionable:
            child_depth = depth
            if node.text:
                self.lines.append(Line(depth, node.text, "text"))
                child_depth = depth + 1
            self._children(node.children, child_depth)
            return
        if role == "heading":
            level = node.attrs.get("level", "")
            heading = heading_line(int(level) if level.isdigit() else None, node.name or node.text)
            self.lines.append(Line(depth, heading, "heading", ref))
            for child in node.children:
                if child.role != "text" or child.text != node.name:
                    self._node(child, depth + 1)
            return
        kind: Literal["ref", "heading", "text"] = "ref" if ref is not None else "text"
        if (
            role == "row"
            and ref is None
            and all(
                c.role in ("cell", "columnheader", "rowheader")
                and not c.children
                # A header that sorts the table on click keeps its own line and ref.
                and not (c.pw_ref is not None and c.attrs.get("cursor") == "pointer")
                for c in node.children
            )
        ):
            cells = (c.name or c.text for c in node.children)
            self.lines.append(Line(depth, row_line(cells), "text"))
            return
        self.lines.append(Line(depth, self._describe(node, ref, flat=False), kind, ref))
        for child in node.children:
            if role in ("combobox", "listbox") and child.role == "option" and child.pw_ref is None:
                continue  # native <select> options are listed inline on the combobox line
            self._node(child, depth + 1)

    def _describe(self, node: AriaNode, ref: int | None, *, flat: bool) -> str:
        name = node.name
        if not name and flat and node.role in _NAMED_BY_CONTENT:
            name = _descendant_text(node)[:80]
        value: str | None = None
        options: list[str] = []
        if node.role in ("combobox", "listbox"):
            native = [c for c in node.children if c.role == "option" and c.pw_ref is None]
            chosen = [c.name for c in native if "selected" in c.attrs]
            if chosen and not node.text:
                value = ", ".join(chosen)
            options = [c.name for c in native]
        text = node.text if node.role != "clickable" else ""
        if text and node.role in INTERACTIVE_ROLES:
            value, text = text, ""
        return element_line(
            node.role,
            ref=ref,
            name=name,
            states=[(a, node.attrs[a]) for a in _STATE_ATTRS if a in node.attrs and a != "level"],
            value=value,
            options=options[:_MAX_OPTIONS],
            more_options=max(len(options) - _MAX_OPTIONS, 0),
            placeholder=node.props.get("placeholder"),
            text=text or None,
            flat=flat,
        )


def _tidy(node: AriaNode) -> None:
    """Fold what Playwright spreads over extra lines into the element it belongs to.

    A field's typed value arrives as a ``text`` child when the field has a placeholder, and a
    label's text stands beside the control it names; both would only repeat what the control's
    own line says.
    """
    children = node.children
    if not children:
        return
    if (
        len(children) == 1
        and children[0].role == "text"
        and node.role in INTERACTIVE_ROLES
        and not node.text
    ):
        node.text = children[0].text
        node.children = []
        return
    names = {c.name for c in children if c.name and c.role in INTERACTIVE_ROLES}
    if names:
        node.children = children = [
            c for c in children if not (c.role == "text" and not c.children and c.text in names)
        ]
    for child in children:
        _tidy(child)


def _descendant_text(node: AriaNode) -> str:
    pieces: list[str] = []
    for child in node.walk()[1:]:
        if child.name:
            pieces.append(child.name)
        elif child.text:
            pieces.append(child.text)
    return _norm(" ".join(pieces))
