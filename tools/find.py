"""Elements described the way a person finds them again: role and exact name, and what tells
equals apart (the frame they are in, the landmark they sit in, their position among equals).

An element inside an iframe is described with the chain of iframes from the top page down to
it, each iframe by its title (its accessible name) and its position among iframes of that
title; it is resolved through each iframe's content in turn, and every iframe of the chain
must be found exactly as recorded, or nothing is acted on.

A ref means one element of one document; a description outlives the document. A recipe step
(``agent.recipes``) stores a description, and a replay acts only when the description resolves
to exactly one element: none, or more than the description can tell apart, is an error the
planner hears about, never a guess. :func:`describe` makes a description of an element a ref
pointed at; :func:`resolve_description` turns one back into that element.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

from playwright.async_api import ElementHandle
from playwright.async_api import Error as PlaywrightError

from agent.errors import ToolError, first_line

if TYPE_CHECKING:
    from playwright.async_api import Frame, FrameLocator, Locator, Page

    Root = Page | FrameLocator

__all__ = [
    "AmbiguousTargetError",
    "Description",
    "FindKind",
    "FrameStep",
    "Landmark",
    "MissingTargetError",
    "describe",
    "locate_all",
    "resolve_description",
]

FindKind = Literal["role", "label", "placeholder", "text"]

# The roles a landmark can have (ARIA landmark roles, as Playwright names the implicit ones).
_LANDMARK_JS = """(el) => {
  const implicit = {MAIN: 'main', NAV: 'navigation', ASIDE: 'complementary', FORM: 'form',
                    SECTION: 'region', HEADER: 'banner', FOOTER: 'contentinfo'};
  const roles = new Set(['main', 'navigation', 'complementary', 'form', 'region', 'banner',
                         'contentinfo', 'search', 'dialog', 'alertdialog']);
  const nameOf = (node) => {
    const label = node.getAttribute('aria-label');
    if (label && label.trim()) return label.trim();
    const by = node.getAttribute('aria-labelledby');
    if (by) {
      const text = by.split(/\\s+/).map(id => document.getElementById(id))
        .filter(Boolean).map(n => n.textContent.trim()).join(' ').trim();
      if (text) return text;
    }
    return '';
  };
  for (let node = el.parentElement; node; node = node.parentElement) {
    const role = (node.getAttribute('role') || implicit[node.tagName] || '').trim();
    if (!roles.has(role)) continue;
    const name = nameOf(node);
    // Unnamed forms and regions are not landmarks; header and footer inside sectioning
    // content are not banner and contentinfo.
    if ((role === 'form' || role === 'region') && !name && !node.getAttribute('role')) continue;
    if ((node.tagName === 'HEADER' || node.tagName === 'FOOTER') && !node.getAttribute('role')
        && node.parentElement && node.parentElement.closest('article,aside,main,nav,section'))
      continue;
    return {role, name};
  }
  return null;
}"""

_INDEX_JS = """(els, target) => els.findIndex(
  e => e === target || e.contains(target) || target.contains(e))"""


class MissingTargetError(ToolError):
    """No element on the page fits a description."""


class AmbiguousTargetError(ToolError):
    """More elements fit a description than it can tell apart."""


@dataclass(frozen=True)
class Landmark:
    """The landmark (main, navigation, a named form or region, ...) an element sits in."""

    role: str
    name: str = ""


@dataclass(frozen=True)
class FrameStep:
    """One iframe on the way from the top page to an element.

    Attributes:
        title: the iframe's title (its accessible name); "" for an iframe with none.
        nth: its position among the iframes of that title in its document (0-based).
        among: how many there were when it was recorded; another number refuses.
    """

    title: str = ""
    nth: int = 0
    among: int = 1

    def selector(self) -> str:
        """The iframes of this title (attribute value quoted for CSS)."""
        if not self.title:
            return "iframe:not([title]), iframe[title='']"
        escaped = self.title.replace("\\", "\\\\").replace('"', '\\"')
        return f'iframe[title="{escaped}"]'

    def label(self) -> str:
        said = f'frame "{self.title}"' if self.title else "an untitled frame"
        return said + (f" (number {self.nth + 1} of {self.among})" if self.among > 1 else "")


@dataclass(frozen=True)
class Description:
    """How to find one element again.

    Attributes:
        kind: ``role`` (``value`` is the ARIA role, ``name`` the accessible name), or ``label``,
            ``placeholder``, ``text`` (``value`` is that text).
        value: the role, or the label, placeholder or text.
        name: for ``role``: the exact accessible name; "" for none.
        within: the landmark to look in, when the page has equals elsewhere.
        nth: the position among the equals that remain (0-based), when ``among`` > 1.
        among: how many equals there were when it was recorded; a replay that finds another
            number cannot tell which one is meant and refuses.
        frames: the iframes from the top page down to the element's document; () for the
            page's own.
    """

    kind: FindKind
    value: str
    name: str = ""
    within: Landmark | None = None
    nth: int = 0
    among: int = 1
    frames: tuple[FrameStep, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if self.within is None:
            data.pop("within")
        if self.frames:
            data["frames"] = [asdict(frame) for frame in self.frames]
        else:
            data.pop("frames")
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Description:
        within = data.get("within")
        return cls(
            kind=data["kind"],
            value=str(data["value"]),
            name=str(data.get("name", "")),
            within=Landmark(**within) if within else None,
            nth=int(data.get("nth", 0)),
            among=int(data.get("among", 1)),
            frames=tuple(FrameStep(**frame) for frame in data.get("frames") or ()),
        )

    def label(self) -> str:
        """The description in words, for messages: ``button "Continue" in navigation "Top"``."""
        said = (
            f'{self.value} "{self.name}"' if self.kind == "role" else f'{self.kind} "{self.value}"'
        )
        if self.kind == "role" and not self.name:
            said = self.value
        if self.within is not None:
            where = self.within.role + (f' "{self.within.name}"' if self.within.name else "")
            said += f" in {where}"
        if self.among > 1:
            said += f" (number {self.nth + 1} of {self.among})"
        for frame in reversed(self.frames):
            said += f" in {frame.label()}"
        return said


def _landmark(root: Root, within: Landmark) -> Locator:
    if within.name:
        return root.get_by_role(within.role, name=within.name, exact=True)  # type: ignore[arg-type]
    return root.get_by_role(within.role)  # type: ignore[arg-type]


def _scope(root: Root, within: Landmark | None) -> Root | Locator:
    return root if within is None else _landmark(root, within)


def _root(page: Page, frames: tuple[FrameStep, ...]) -> Root:
    """The document the frames lead to (not checked: :func:`resolve_description` counts)."""
    root: Root = page
    for frame in frames:
        root = root.locator(frame.selector()).nth(frame.nth).content_frame
    return root


def _matches(scope: Root | Locator, kind: FindKind, value: str, name: str) -> Locator:
    if kind == "role":
        if name:
            return scope.get_by_role(value, name=name, exact=True)  # type: ignore[arg-type]
        return scope.get_by_role(value)  # type: ignore[arg-type]
    if kind == "label":
        return scope.get_by_label(value, exact=True)
    if kind == "placeholder":
        return scope.get_by_placeholder(value, exact=True)
    return scope.get_by_text(value, exact=True)


def locate_all(page: Page, description: Description) -> Locator:
    """Every element that fits the description's frames, kind, value, name and landmark (not
    ``nth``)."""
    root = _root(page, description.frames)
    return _matches(
        _scope(root, description.within), description.kind, description.value, description.name
    )


async def _count(locator: Locator, described: str) -> int:
    try:
        return await locator.count()
    except PlaywrightError as exc:
        raise ToolError(f"could not look for {described}: {first_line(exc)}") from exc


async def resolve_description(page: Page, description: Description) -> Locator:
    """The one element that fits ``description``.

    Raises:
        MissingTargetError: no element fits (or its landmark is gone).
        AmbiguousTargetError: more elements fit than the description tells apart.
    """
    described = description.label()
    root: Root = page
    for frame in description.frames:
        iframes = root.locator(frame.selector())
        found = await _count(iframes, described)
        if found != frame.among:
            problem = "no" if found == 0 else f"{found}"
            raise (MissingTargetError if found == 0 else AmbiguousTargetError)(
                f"{problem} {frame.label()} on the page (recorded: {frame.among}), so "
                f"{described} cannot be found."
            )
        root = iframes.nth(frame.nth).content_frame
    if description.within is not None:
        landmarks = await _count(_landmark(root, description.within), described)
        if landmarks != 1:
            problem = "no" if landmarks == 0 else f"{landmarks}"
            raise (MissingTargetError if landmarks == 0 else AmbiguousTargetError)(
                f"{problem} landmark {description.within.role} "
                f"{description.within.name!r} on the page, so {described} cannot be found."
            )
    matches = locate_all(page, description)
    count = await _count(matches, described)
    if count == 0:
        raise MissingTargetError(f"no element {described} on the page.")
    if count == description.among:
        return matches.nth(description.nth) if count > 1 else matches
    raise AmbiguousTargetError(
        f"{count} elements {described} on the page (recorded: {description.among}); "
        "add a region or position that tells them apart."
    )


async def describe(
    page: Page, target: Locator | ElementHandle, role: str, name: str
) -> Description | None:
    """A description of ``target`` (which a snapshot showed as ``role`` named ``name``) that
    resolves back to it; None when none can (an element with no role and no name, or one in a
    frame that cannot be told apart from its equals)."""
    base = _base(role, name)
    if base is None:
        return None
    try:
        handle = target if isinstance(target, ElementHandle) else await target.element_handle()
        frames = await _frames_of(page, handle)
        if frames is None:
            return None
        base = Description(base.kind, base.value, base.name, frames=frames)
        matches = locate_all(page, base)
        count = await matches.count()
        index = await matches.evaluate_all(_INDEX_JS, handle) if count else -1
        if index < 0:
            return None
        if count == 1:
            return base
        found = await handle.evaluate(_LANDMARK_JS)
    except PlaywrightError:
        return None
    if found:
        landmark = Landmark(found["role"], found["name"])
        inside = Description(base.kind, base.value, base.name, within=landmark, frames=frames)
        try:
            landmarks = await _landmark(_root(page, frames), landmark).count()
            scoped = locate_all(page, inside)
            scoped_count = await scoped.count() if landmarks == 1 else 0
            scoped_index = await scoped.evaluate_all(_INDEX_JS, handle) if scoped_count else -1
        except PlaywrightError:
            scoped_index = -1
        if scoped_index >= 0:
            return Description(
                base.kind, base.value, base.name, inside.within, scoped_index, scoped_count, frames
            )
    return Description(base.kind, base.value, base.name, None, index, count, frames)


_TITLE_JS = "(el) => (el.tagName === 'IFRAME' ? el.getAttribute('title') || '' : null)"


async def _frames_of(page: Page, handle: ElementHandle) -> tuple[FrameStep, ...] | None:
    """The iframes from the top page down to ``handle``'s document; None when one of them is
    not an iframe (a ``frame`` of a frameset) or cannot be found again by its title."""
    frame: Frame | None = await handle.owner_frame()
    chain: list[FrameStep] = []
    while frame is not None and frame != page.main_frame and frame.parent_frame is not None:
        element = await frame.frame_element()
        title = await element.evaluate(_TITLE_JS)
        if title is None:
            return None
        step = FrameStep(str(title))
        equals = frame.parent_frame.locator(step.selector())
        among = await equals.count()
        nth = await equals.evaluate_all(_INDEX_JS, element) if among else -1
        if nth < 0:
            return None
        chain.append(FrameStep(step.title, nth, among))
        frame = frame.parent_frame
    return tuple(reversed(chain))


def _base(role: str, name: str) -> Description | None:
    if role and role not in ("clickable", "generic", "text"):
        return Description("role", role, name)
    if name:
        return Description("text", name)
    return None
