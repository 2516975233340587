"""The snapshot's text grammar, written and read in one place: refs and snapshot lines.

A **ref** is ``@eN``; ``eN`` and ``ref=eN`` are accepted wherever a ref is read. A **snapshot**
is lines indented two spaces per level; an element line reads::

    @e3 combobox "Size" [required] = "Medium" options: "Small" | "Medium" | "Large"
    @e7 textbox "Email" (placeholder "you@example.com")
    @e9 clickable "alpha"
    navigation "Main": Docs Blog

that is ``[@eN ]ROLE[ "NAME"][ [STATE[=V]]...][ = "VALUE"][ options: ...][ (placeholder "P")]``
and, for elements that are not form controls, ``: TEXT`` after it. Other lines are a heading
(``# Title``, one ``#`` per level), a table row (``| a | b |``), plain text, or the closing note
of a capped snapshot (``[snapshot capped at ...]``). Plain text is written as the page has it,
so a line without a ref is read back as an element only when an ARIA role starts it and a quoted
name follows (``rowheader "Genre"``); a bare ``generic`` may as well be a paragraph's one word.

The renderer (``agent.browser.snapshot``) writes lines with :func:`element_line`; everything
that reads snapshots (the ``agent browser`` command, the evals' reference policy, the MiniWoB++
harness, the tests) reads them with :func:`parse_snapshot`. Nothing else holds a ref regex.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from agent.errors import UnknownRefError

__all__ = [
    "ARIA_ROLES",
    "INDENT",
    "STRUCTURAL_ROLES",
    "SnapshotLine",
    "compact",
    "element_line",
    "find_ref",
    "format_ref",
    "heading_line",
    "indent",
    "is_ref",
    "parse_heading",
    "parse_ref",
    "parse_snapshot",
    "quote",
    "ref_lines",
    "row_line",
]

INDENT = "  "
"""One level of nesting."""

_REF = re.compile(r"^\s*(?:@|ref=)?e(\d+)\s*$")
_QUOTED = r'"((?:[^"\\]|\\.)*)"'
_NAME = r'"(?P<name>(?:[^"\\]|\\.)*)"'
_ELEMENT = re.compile(rf"^@e(?P<ref>\d+) (?P<role>[\w-]+)(?: {_NAME})?(?P<rest>.*)$")
_NAMED_ELEMENT = re.compile(rf"^(?P<role>[a-z]+) {_NAME}(?P<rest>.*)$")
_STATE = re.compile(r"\[([\w-]+)(?:=([^\]]*))?\]")
_VALUE = re.compile(rf" = {_QUOTED}")
_PLACEHOLDER = re.compile(rf"\(placeholder {_QUOTED}\)")
_ESCAPE = re.compile(r"\\(.)")

STRUCTURAL_ROLES = frozenset(
    {
        "generic", "group", "list", "listitem", "paragraph", "main", "navigation", "region",
        "banner", "contentinfo", "complementary", "section", "article", "rowgroup", "row",
        "none", "presentation", "separator", "document", "figure", "term", "definition",
    }
)  # fmt: skip
"""Roles that only give structure: a line naming one alone, with no ref, name or text, says
nothing (``compact`` drops it)."""

ARIA_ROLES = frozenset(
    {
        "alert", "alertdialog", "application", "article", "banner", "blockquote", "button",
        "caption", "cell", "checkbox", "code", "columnheader", "combobox", "complementary",
        "contentinfo", "definition", "deletion", "dialog", "directory", "document", "emphasis",
        "feed", "figure", "form", "generic", "grid", "gridcell", "group", "heading", "iframe",
        "img", "image", "insertion", "link", "list", "listbox", "listitem", "log", "main", "mark",
        "marquee", "math", "menu", "menubar", "menuitem", "menuitemcheckbox", "menuitemradio",
        "meter", "navigation", "none", "note", "option", "paragraph", "presentation",
        "progressbar", "radio", "radiogroup", "region", "row", "rowgroup", "rowheader",
        "scrollbar", "search", "searchbox", "separator", "slider", "spinbutton", "status",
        "strong", "subscript", "superscript", "switch", "tab", "table", "tablist", "tabpanel",
        "term", "textbox", "time", "timer", "toolbar", "tooltip", "tree", "treegrid", "treeitem",
    }
)  # fmt: skip
"""The roles Playwright's accessibility snapshot gives elements (WAI-ARIA's, and ``iframe``):
the words that make a line without a ref an element line when a quoted name follows."""


def format_ref(number: int) -> str:
    """The ref of element ``number`` as snapshots write it: ``@e3``."""
    return f"@e{number}"


def parse_ref(text: str) -> int:
    """Read ``@e3``, ``e3`` or ``ref=e3`` as the number 3.

    Raises:
        UnknownRefError: ``text`` is not a ref.
    """
    match = _REF.match(text)
    if not match:
        raise UnknownRefError(
            f"{text!r} is not a ref. Refs look like @e3; take them from the latest snapshot."
        )
    return int(match.group(1))


def is_ref(text: str) -> bool:
    """True for ``@e3``, ``e3`` and ``ref=e3``."""
    return _REF.match(text) is not None


def quote(text: str) -> str:
    """A name or value in double quotes, with quotes and backslashes escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _unquote(escaped: str) -> str:
    return _ESCAPE.sub(r"\1", escaped)


def indent(depth: int, text: str) -> str:
    """``text`` as a line at nesting ``depth``."""
    return INDENT * depth + text


def element_line(
    role: str,
    *,
    ref: int | None = None,
    name: str = "",
    states: Iterable[tuple[str, str]] = (),
    value: str | None = None,
    options: Sequence[str] = (),
    more_options: int = 0,
    placeholder: str | None = None,
    text: str | None = None,
    flat: bool = False,
) -> str:
    """One element as a snapshot line (without its indentation).

    Args:
        role: the element's role (``button``, ``textbox``, ``clickable`` ...).
        ref: its ref number, if it has one.
        name: its accessible name.
        states: ``(attribute, value)`` pairs: ``("checked", "")`` renders ``[checked]``,
            ``("level", "2")`` renders ``[level=2]``.
        value: a form control's current value, rendered ``= "value"``.
        options: a dropdown's options, rendered ``options: "a" | "b"``.
        more_options: how many options were left out of ``options``.
        placeholder: a field's placeholder, shown when it has no value.
        text: the inline text of an element that is not a form control.
        flat: interactive mode, where a text stays quoted rather than following a colon.
    """
    parts: list[str] = []
    if ref is not None:
        parts.append(format_ref(ref))
    parts.append(role)
    if name:
        parts.append(quote(name))
    for attr, state in states:
        parts.append(f"[{attr}]" if state in ("", "true") else f"[{attr}={state}]")
    if value is not None:
        parts.append("= " + quote(value))
    if options:
        parts.append("options: " + " | ".join(quote(option) for option in options))
        if more_options:
            parts.append(f"(+{more_options} more)")
    if text:
        parts.append(quote(text) if flat else ": " + text)
    elif placeholder and value is None:
        parts.append(f"(placeholder {quote(placeholder)})")
    return " ".join(parts).replace(" : ", ": ")


def heading_line(level: int | None, text: str) -> str:
    """A heading: one ``#`` per level (one when the level is unknown), then its text."""
    return f"{'#' * (level or 1)} {text}"


_HEADING = re.compile(r"^(?P<marks>#+) (?P<text>.*)$")


def parse_heading(text: str) -> tuple[int, str] | None:
    """A heading line read back (``## Plans`` is level 2, "Plans"), or None for any other line."""
    match = _HEADING.match(text.strip())
    if match is None:
        return None
    return len(match.group("marks")), match.group("text").strip()


def row_line(cells: Iterable[str]) -> str:
    """A table row whose cells are plain text: ``| a | b |``."""
    return f"| {' | '.join(cells)} |"


@dataclass(frozen=True)
class SnapshotLine:
    """One line of a snapshot, read back.

    ``text`` is the line without its indentation. For an element line, ``role``, ``name`` and
    ``states`` are set, and ``ref`` too when it has one (``rowheader "Genre"`` has none);
    ``value`` is a form control's value; an element named only by its inline text
    (``@e4 generic: Ticket 42``) has that text as its ``name``. Any other line has only ``text``.
    """

    index: int
    depth: int
    text: str
    ref: str | None = None
    role: str = ""
    name: str = ""
    value: str | None = None
    placeholder: str | None = None
    states: tuple[tuple[str, str], ...] = ()


def _parse_line(index: int, raw: str) -> SnapshotLine:
    stripped = raw.lstrip(" ")
    depth = (len(raw) - len(stripped)) // len(INDENT)
    text = stripped.rstrip()
    element = _ELEMENT.match(text)
    ref = format_ref(int(element.group("ref"))) if element else None
    if element is None:
        # Without a ref, only an ARIA role and a quoted name make an element line: a bare
        # `generic` and a paragraph that says "generic" cannot be told apart.
        element = _NAMED_ELEMENT.match(text)
        if element is None or element.group("role") not in ARIA_ROLES:
            return SnapshotLine(index, depth, text)
    rest = element.group("rest")
    name = _unquote(element.group("name") or "")
    if not name and rest.startswith(": "):
        name = rest[2:].strip()  # an element named by its inline text
    value = _VALUE.search(rest)
    placeholder = _PLACEHOLDER.search(rest)
    states = tuple((m.group(1), m.group(2) or "") for m in _STATE.finditer(rest.split(" = ")[0]))
    return SnapshotLine(
        index,
        depth,
        text,
        ref=ref,
        role=element.group("role"),
        name=name,
        value=_unquote(value.group(1)) if value else None,
        placeholder=_unquote(placeholder.group(1)) if placeholder else None,
        states=states,
    )


def parse_snapshot(text: str) -> list[SnapshotLine]:
    """Every line of a snapshot (or of any text that holds one), read back, in order."""
    return [_parse_line(index, raw) for index, raw in enumerate(text.splitlines())]


def ref_lines(text: str) -> list[SnapshotLine]:
    """The lines of a snapshot that carry a ref, in order."""
    return [line for line in parse_snapshot(text) if line.ref is not None]


def find_ref(text: str, role: str, name: str | None = None, *, nth: int = 1) -> str | None:
    """The ref of the ``nth`` element with ``role`` (and exactly ``name``, if given), or None."""
    found = [
        line.ref
        for line in ref_lines(text)
        if line.role == role and (name is None or line.name == name)
    ]
    return found[nth - 1] if len(found) >= nth else None


def compact(text: str) -> str:
    """Drop empty lines and lines that only name a structural role (no ref, name or text)."""
    kept = [
        line
        for line in text.splitlines()
        if line.strip() and line.strip().removeprefix("- ") not in STRUCTURAL_ROLES
    ]
    return "\n".join(kept)
