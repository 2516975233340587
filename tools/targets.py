"""From what a caller names to the element(s) an action acts on: the one place every face
resolves a target, with one wording of what can go wrong.

A target is a ref from the session's snapshots (``@e3``; ``agent.browser.refs`` is the only way
from a ref to an element, so a stale ref says so) or a selector. How many elements a selector
may match is the face's contract, said once here:

* ``one`` (Playwright MCP's "unique element selector"): exactly one, never the first of
  several, so an action never lands on an element the caller did not mean;
* ``first`` (``agent browser``, as agent-browser does, and Firecrawl's scrape actions): the
  first match;
* ``all`` (a scrape ``click`` with ``all: true``): every match, none being no error.

What cannot be acted on once found (detached, hidden, disabled, covered) is said by
``tools.elements.ensure_actionable``, the other half of the vocabulary. ``Target`` is a union so
that another way of naming an element (by role and name, as agent-browser's ``find`` does) is
one more case of it and of ``resolve``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from playwright.async_api import Error as PlaywrightError

from agent.browser.grammar import is_ref
from agent.errors import ToolError, first_line

if TYPE_CHECKING:
    from playwright.async_api import ElementHandle, Locator

    from tools.context import ToolContext

__all__ = [
    "Found",
    "Match",
    "RefTarget",
    "SelectorTarget",
    "Target",
    "TargetError",
    "count_matches",
    "focused",
    "found_by",
    "parse_target",
    "resolve",
    "resolve_all",
    "target_of",
]

Match = Literal["one", "first", "all"]
"""How many elements a selector may match: exactly one, the first of any, or all of them."""


@dataclass(frozen=True)
class RefTarget:
    """An element by its ref from a snapshot of this session (``@e3``, ``e3``, ``ref=e3``)."""

    ref: str


@dataclass(frozen=True)
class SelectorTarget:
    """Elements by a CSS (or Playwright) selector.

    Attributes:
        selector: the selector.
        match: how many it may match (``Match``).
        label: how results name the element; ``'#go'`` (the selector, quoted) when None.
    """

    selector: str
    match: Match = "one"
    label: str | None = None


Target = RefTarget | SelectorTarget
"""What names an element; a further kind (a ``find`` description) is one more member."""


@dataclass(frozen=True)
class Found:
    """An element a target named, and how results and errors name it (``@e5 button "Go"``)."""

    element: Locator | ElementHandle
    label: str


class TargetError(ToolError):
    """A selector names no element, or not the one element it must (no match, several matches,
    invalid selector; a stale ref is ``agent.errors.StaleRefError``).

    Attributes:
        problem: what went wrong, for a face that gives its own advice (a scrape action).
    """

    def __init__(self, problem: str, advice: str) -> None:
        super().__init__(f"{problem} {advice}")
        self.problem = problem


def parse_target(text: str, *, match: Match = "one", label: str | None = None) -> Target:
    """``text`` as a target: a ref when it is spelled as one, else a selector."""
    if is_ref(text):
        return RefTarget(text)
    return SelectorTarget(text, match, label)


def target_of(ctx: ToolContext, text: str) -> Target:
    """What ``text`` names for this caller (``ToolContext.selectors``): a ref, or a selector
    where the caller's face takes one (named as written for ``first``, as ``agent browser``
    prints it; quoted otherwise)."""
    if ctx.selectors is None or is_ref(text):
        return RefTarget(text)
    return SelectorTarget(text, ctx.selectors, text if ctx.selectors == "first" else None)


async def found_by(ctx: ToolContext, text: str) -> Found:
    """The element ``text`` names for this caller (``target_of``), for a tool's target
    argument."""
    return await resolve(ctx, target_of(ctx, text))


async def resolve(ctx: ToolContext, target: Target) -> Found:
    """The one element ``target`` names (the first, for ``match="first"``).

    Raises:
        ToolError: the ref is stale or unknown (``StaleRefError``, ``UnknownRefError``), or
            ``TargetError``: the selector is invalid, matches nothing, or (``match="one"``)
            several elements.
    """
    if isinstance(target, RefTarget):
        return Found(await ctx.session.resolve(target.ref), ctx.label(target.ref))
    locator = ctx.page.locator(target.selector)
    count = await _count(locator, target.selector)
    if count == 0:
        raise TargetError(
            f"No element matches the CSS selector {target.selector!r}.",
            "Use a ref from the latest snapshot (like @e3), or take a new snapshot if the page "
            "changed.",
        )
    if count > 1 and target.match == "one":
        raise TargetError(
            f"{target.selector!r} matches {count} elements, so which one is meant is unclear.",
            "Use a ref from the latest snapshot (like @e3) or a selector that matches one element.",
        )
    return Found(locator.first if count > 1 else locator, _label(target))


async def resolve_all(ctx: ToolContext, target: Target) -> list[Found]:
    """Every element ``target`` names, in document order; none is no error for a selector.

    Handles, not nth locators: an action on one match that removes it must not shift the rest.

    Raises:
        ToolError: a stale or unknown ref, or an invalid selector.
    """
    if isinstance(target, RefTarget):
        return [await resolve(ctx, target)]
    try:
        handles = await ctx.page.query_selector_all(target.selector)
    except PlaywrightError as exc:
        if not ctx.session.alive:
            raise
        raise _invalid(target.selector, exc) from exc
    label = _label(target)
    return [Found(h, f"{label} (match {n + 1})") for n, h in enumerate(handles)]


def _invalid(selector: str, exc: BaseException) -> TargetError:
    return TargetError(
        f"{selector!r} is not a valid CSS selector ({first_line(exc).rstrip('.')}).",
        "Fix the selector, or use a ref from the latest snapshot (like @e3).",
    )


async def _count(locator: Locator, selector: str) -> int:
    try:
        return await locator.count()
    except PlaywrightError as exc:
        raise _invalid(selector, exc) from exc


def _label(target: SelectorTarget) -> str:
    return target.label if target.label is not None else repr(target.selector)


async def count_matches(ctx: ToolContext, target: Target) -> int:
    """How many elements ``target`` names: 1 for a live ref, any number for a selector.

    Raises:
        ToolError: a stale or unknown ref, or an invalid selector.
    """
    if isinstance(target, RefTarget):
        await resolve(ctx, target)
        return 1
    return await _count(ctx.page.locator(target.selector), target.selector)


# The element keys go to: the focused one, looking into open shadow roots; None when nothing
# but the document itself has focus.
_FOCUSED_JS = """() => {
  let el = document.activeElement;
  while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
  return el && el !== document.body && el !== document.documentElement ? el : null;
}"""


async def focused(ctx: ToolContext) -> Found | None:
    """The element that has focus (where keys go), or None when only the document has it."""
    element = (await ctx.page.evaluate_handle(_FOCUSED_JS)).as_element()
    return Found(element, "the focused element") if element is not None else None
