"""Refs the model can trust: ``@eN`` names issued by us, resolved back to exactly one element.

Playwright's own refs (``aria-ref=e5``) are only resolvable against the last snapshot taken in a
document, and they restart from ``e1`` in every new document. Our refs wrap them:

* a ref is issued once per (document, element) and never reused in a session, so a number can
  never come to mean another element after a navigation;
* an element that persists keeps its ref across snapshots of the same document. Playwright keeps
  its own ref for an element while its role and name are unchanged; when the name changes it
  issues a new one. So an element a tool acted on is marked in its page with our number
  (``ref_tag.js``, a WeakMap: the mark belongs to that DOM node, never to a copy or a
  replacement), and a snapshot that no longer shows that element's Playwright ref asks the new
  refs of the same role for the mark (:meth:`RefRegistry.relink`): the "Click me" button that
  now says "Clicked 1" is still ``@e5``. An inline clickable's key is its DOM node already;
* resolving a ref checks the document, then the element; when Playwright's map was replaced by a
  later (scoped or foreign) snapshot, one fresh snapshot decides whether the element still exists.
  Whatever fails raises ``StaleRefError``: we never act on a different element, never time out.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from playwright.async_api import Error as PlaywrightError

from agent.browser import page_js
from agent.browser.grammar import format_ref, parse_ref
from agent.browser.main_world import MainWorld, MainWorldUnavailable
from agent.errors import StaleRefError, ToolError, UnknownRefError, first_line

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from playwright.async_api import ElementHandle, Frame, Locator, Page

__all__ = [
    "LiveRefs",
    "RefEntry",
    "RefRegistry",
    "document_id",
    "first_css_match",
    "frame_clickable_key",
]

LiveRefs = Mapping[str, tuple[str, str]]
"""A snapshot's Playwright refs, each with its element's role and name."""
# How many new refs of the right role a snapshot asks for a lost element's mark: one round trip
# each, and a relabelled element is usually the only new one of its role.
_RELINK_CANDIDATES = 8
_MARK_TIMEOUT_S = 2.0


async def document_id(page: Page, main_world: MainWorld | None = None) -> float:
    """An id of the page's current main document: its ``performance.timeOrigin``.

    It changes with every navigation or reload, and reading it does not touch the page. Read
    through ``main_world`` when given (the router's own session: no hop through Playwright's
    driver), else through Playwright.
    """
    if main_world is not None:
        with contextlib.suppress(MainWorldUnavailable):
            value = await main_world.evaluate(page, "performance.timeOrigin")
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
    return float(await page.evaluate("performance.timeOrigin"))


@dataclass(frozen=True)
class RefEntry:
    """What an issued ref points at."""

    doc: float  # performance.timeOrigin of the main document it was issued in
    kind: Literal["aria", "clickable"]
    key: str  # Playwright's ref ("e5", "f1e2") or the clickable registry id
    role: str
    name: str


class RefRegistry:
    """Issues and resolves one session's refs."""

    def __init__(self) -> None:
        self._entries: dict[int, RefEntry] = {}
        self._by_key: dict[tuple[float, str, str], int] = {}
        self._next = 1
        self._remaps = 0
        self._marked: set[int] = set()  # aria refs whose element carries our mark
        self._marking: set[asyncio.Task[None]] = set()

    def issue(
        self, doc: float, kind: Literal["aria", "clickable"], key: str, role: str, name: str
    ) -> int:
        """Return the ref for an element, reusing the one it already has in this document."""
        lookup = (doc, kind, key)
        number = self._by_key.get(lookup)
        if number is not None:
            entry = self._entries[number]
            # A clickable's key is its DOM node: a new text is the same element. Playwright's
            # key means the same element only with the same role and name (an iframe's next
            # document numbers its refs from the start again).
            if kind == "clickable" or (entry.role == role and entry.name == name):
                if entry.name != name:
                    self._entries[number] = replace(entry, name=name)
                return number
            self._remaps += 1  # the key now names another number
        number = self._next
        self._next += 1
        self._entries[number] = RefEntry(doc, kind, key, role, name)
        self._by_key[lookup] = number
        return number

    def marks_in(self, doc: float) -> bool:
        """Whether an element of document ``doc`` was marked (and may need :meth:`relink`)."""
        return any(self._entries[number].doc == doc for number in self._marked)

    def lost_marks(self, doc: float, shown: Callable[[str], bool]) -> bool:
        """Whether an element of ``doc`` that was marked has a Playwright ref that ``shown``
        says the new snapshot no longer holds: only then can :meth:`relink` find anything."""
        return any(
            entry.doc == doc and not shown(entry.key)
            for entry in (self._entries[number] for number in self._marked)
        )

    async def relink(self, page: Page, doc: float, live: LiveRefs) -> None:
        """Give marked elements whose Playwright ref is gone from ``live`` (a snapshot of
        ``doc``) their ref again, under the new Playwright ref their element now has.

        Only a new ref of the same role whose element carries the number's mark is taken; a
        replaced element has no mark, so its ref stays stale.
        """
        if self._marking:
            await asyncio.gather(*self._marking, return_exceptions=True)
        self._marked = {n for n in self._marked if self._entries[n].doc == doc}
        lost = {n: self._entries[n] for n in self._marked if self._entries[n].key not in live}
        roles = {entry.role for entry in lost.values()}
        fresh = [
            key
            for key, (role, _) in live.items()
            if role in roles and (doc, "aria", key) not in self._by_key
        ]
        for key in fresh[:_RELINK_CANDIDATES]:
            if not lost:
                return
            number = await _mark_of(page, key)
            entry = lost.pop(number, None) if number is not None else None
            if number is None or entry is None or entry.role != live[key][0]:
                continue
            self._by_key.pop((doc, "aria", entry.key), None)
            self._by_key[(doc, "aria", key)] = number
            self._entries[number] = replace(entry, key=key, name=live[key][1])
            self._remaps += 1

    def _mark(self, locator: Locator, number: int) -> None:
        """Mark the element ``number`` resolved to, without holding up the action on it: a mark
        names the element, whatever happens to its name meanwhile; :meth:`relink` waits for it."""
        if number in self._marked:
            return
        self._marked.add(number)
        task = asyncio.ensure_future(_mark_element(locator, number))
        self._marking.add(task)
        task.add_done_callback(self._marking.discard)

    @property
    def remaps(self) -> int:
        """How many times a key came to name another number (a relabelled element relinked, or
        a key issued again for another role or name): a line drawn before may be wrong since."""
        return self._remaps

    @property
    def issued(self) -> int:
        """How many refs have been issued so far (a render that issues none changed nothing)."""
        return self._next - 1

    def entry(self, ref: str) -> tuple[int, RefEntry]:
        number = parse_ref(ref)
        entry = self._entries.get(number)
        if entry is None:
            raise UnknownRefError(
                f"{format_ref(number)} was never in a snapshot of this session. Use a ref from the "
                "latest snapshot (call snapshot to get a fresh one)."
            )
        return number, entry

    async def resolve(
        self,
        page: Page,
        ref: str,
        *,
        current_doc: Callable[[], Awaitable[float]],
        refresh: Callable[[], Awaitable[LiveRefs]],
    ) -> Locator | ElementHandle:
        """Find the element a ref names, or raise ``StaleRefError`` saying what happened.

        ``current_doc`` reads the page's document id; ``refresh`` takes a fresh full snapshot and
        returns the Playwright refs it contains.
        """
        number, entry = self.entry(ref)
        label = f"{format_ref(number)} ({entry.role}{' ' + repr(entry.name) if entry.name else ''})"
        if await current_doc() != entry.doc:
            raise StaleRefError(
                f"stale ref {label}: the page has navigated or reloaded since that snapshot. "
                "Take a new snapshot and use its refs."
            )
        if entry.kind == "clickable":
            handle = await _clickable_handle(page, entry.key)
            if handle is None:
                raise StaleRefError(
                    f"stale ref {label}: that element was removed from the page. "
                    "Take a new snapshot and use its refs."
                )
            return handle
        locator = page.locator(f"aria-ref={entry.key}")
        if await _count(locator) == 1:
            self._mark(locator, number)
            return locator
        # Playwright's ref map may have been replaced by a later scoped snapshot; one fresh full
        # snapshot tells whether this element is still there with the same role and name, or,
        # when it was marked, under another name.
        live = await refresh()
        if entry.key not in live and number in self._marked:
            await self.relink(page, entry.doc, live)
            entry = self._entries[number]
            locator = page.locator(f"aria-ref={entry.key}")
        if entry.key in live and await _count(locator) == 1:
            self._mark(locator, number)
            return locator
        raise StaleRefError(
            f"stale ref {label}: that element was removed or changed since the snapshot. "
            "Take a new snapshot and use its refs."
        )


def frame_clickable_key(path: tuple[int, ...], nonce: str, clickable_id: int) -> str:
    """The registry key of a clickable inside an iframe: the frame whose context reaches it
    (its position among its parents' child frames; none for the page's own), the nonce of the
    registry of the document that holds it, and its id there. A new document in that frame has
    a registry of its own, so the key never comes to name an element of another document."""
    return f"f{'.'.join(map(str, path))}/{nonce}#{clickable_id}"


async def _clickable_handle(page: Page, key: str) -> ElementHandle | None:
    """The element a clickable key names, or None when it (or its frame's document) is gone."""
    if "#" not in key:  # the main frame's
        handle = await page.evaluate_handle(page_js.CLICKABLE_BY_ID, [None, int(key)])
        return handle.as_element()
    where, clickable_id = key[1:].split("#")
    path, nonce = where.split("/")
    frame = page.main_frame
    for index in map(int, filter(None, path.split("."))):
        children = frame.child_frames
        if index >= len(children):
            return None
        frame = children[index]
    # The document is in that frame or in one it reaches; its handle must come from its own
    # frame, whose coordinates an action on it uses.
    found = await asyncio.gather(
        *(_clickable_in(inner, nonce, int(clickable_id)) for inner in _frame_and_below(frame))
    )
    return next((handle for handle in found if handle is not None), None)


def _frame_and_below(frame: Frame) -> list[Frame]:
    return [frame, *(inner for child in frame.child_frames for inner in _frame_and_below(child))]


async def _clickable_in(frame: Frame, nonce: str, clickable_id: int) -> ElementHandle | None:
    try:
        async with asyncio.timeout(_MARK_TIMEOUT_S):
            handle = await frame.evaluate_handle(page_js.CLICKABLE_BY_ID, [nonce, clickable_id])
    except (PlaywrightError, TimeoutError):  # detached meanwhile, or unresponsive
        return None
    return handle.as_element()


async def _mark_element(locator: Locator, number: int) -> None:
    # An element that went away, or a page too busy to answer, just stays unmarked.
    with contextlib.suppress(PlaywrightError, TimeoutError):
        async with asyncio.timeout(_MARK_TIMEOUT_S):
            await locator.evaluate(page_js.REF_TAG, number)


async def _mark_of(page: Page, key: str) -> int | None:
    """The ref number the element of Playwright's ref ``key`` was marked with, if any."""
    try:
        async with asyncio.timeout(_MARK_TIMEOUT_S):
            number = await page.locator(f"aria-ref={key}").evaluate(page_js.REF_OF)
    except (PlaywrightError, TimeoutError):
        return None
    return number if isinstance(number, int) else None


async def _count(locator: Locator) -> int:
    """Matches of an aria-ref locator; a ref Playwright no longer knows (e.g. of a frame that
    has gone: "Invalid frame in aria-ref selector") matches nothing rather than failing."""
    try:
        return await locator.count()
    except PlaywrightError:
        return 0


async def first_css_match(page: Page, selector: str) -> Locator:
    """The first element a CSS selector matches, or a ``ToolError`` saying why there is none.

    Where a ref is not given (``agent browser click '#go'``, ``snapshot(scope="form")``), a
    selector names the element; this is the one place that turns one into an element.
    """
    locator = page.locator(selector)
    try:
        count = await locator.count()
    except PlaywrightError as exc:
        raise ToolError(f"{selector!r} is not a valid CSS selector: {first_line(exc)}") from exc
    if count == 0:
        raise ToolError(f"No element matches the CSS selector {selector!r}.")
    return locator.first
