"""Parse the text of Playwright's AI-mode aria snapshot into a tree.

Playwright renders ``page.aria_snapshot(mode="ai")`` as YAML-like lines::

    - link "Docs" [ref=e4] [cursor=pointer]:
      - /url: /docs
    - textbox "Name" [ref=e7]: bob
    - 'button "a: b" [ref=e9]'

This module turns that text into ``AriaNode`` objects so the snapshot module can filter and
re-render it; it knows nothing of refs we issue or of token budgets.

A page that changed usually changed in one place, and its snapshot text with it: the lines
before and after the change are the same as last time. :func:`parse_snapshot_text` given the
previous parse takes every node whose lines (and the line that closes it) all lie in that
unchanged head or tail from it, as it is, and parses only the rest: the changed lines and the
nodes that enclose them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["AriaNode", "ParsedSnapshot", "parse_aria_snapshot", "parse_snapshot_text"]


@dataclass(slots=True)
class AriaNode:
    """One element (or text run) of the aria snapshot."""

    role: str
    name: str = ""
    attrs: dict[str, str] = field(default_factory=dict)
    text: str = ""  # inline value after the colon: a text run, a textbox's value
    props: dict[str, str] = field(default_factory=dict)  # "/url: ..." style child lines
    children: list[AriaNode] = field(default_factory=list)
    # The lines of the text this node and its subtree take, up to the line that closes it.
    size: int = field(default=1, compare=False, repr=False)
    # Free for whoever renders the tree to keep what it made of this subtree, so that a later
    # parse that takes the node over unchanged brings it along (see the module's docstring).
    rendered: Any = field(default=None, compare=False, repr=False)

    @property
    def pw_ref(self) -> str | None:
        return self.attrs.get("ref")

    def walk(self) -> list[AriaNode]:
        """This node and every descendant, in document order."""
        out = [self]
        for child in self.children:
            out.extend(child.walk())
        return out


_HEAD = re.compile(
    r'^(?P<role>[^\s"\[:]+)(?: (?P<name>"(?:[^"\\]|\\.)*"))?(?P<attrs>(?: \[[^\]]*\])*)'
)
_ATTR = re.compile(r"\[([^\]=]+)(?:=([^\]]*))?\]")


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            decoded = json.loads(value)
        except ValueError:
            return value[1:-1]
        return decoded if isinstance(decoded, str) else value
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1].replace("''", "'")
    return value


def _split_key_value(body: str) -> tuple[str, str | None, bool]:
    """Split a YAML line body into (key, inline value or None, has_children)."""
    if body.startswith("'"):
        # The whole key is single-quoted because it holds YAML-special characters.
        i = 1
        while i < len(body):
            if body[i] == "'":
                if i + 1 < len(body) and body[i + 1] == "'":
                    i += 2
                    continue
                break
            i += 1
        key = body[1:i].replace("''", "'")
        rest = body[i + 1 :]
    else:
        key, rest = _split_unquoted(body)
    if rest.startswith(": "):
        return key, _unquote(rest[2:]), False
    if rest.startswith(":"):
        return key, None, True
    return key, None, False


# A key is a role, an optional quoted name and [attributes]; a colon can only occur inside the
# quotes or brackets, so the first colon outside them ends the key.
_KEY_PREFIX = re.compile(r'(?:[^"\[:]+|"(?:[^"\\]|\\.)*"|\[[^\]]*\])*')


def _split_unquoted(body: str) -> tuple[str, str]:
    """Split a line body at the key/value colon that lies outside quotes and brackets."""
    match = _KEY_PREFIX.match(body)
    end = match.end() if match else 0
    return body[:end], body[end:]


def _parse_key(key: str) -> AriaNode:
    match = _HEAD.match(key)
    if not match:
        return AriaNode(role="text", text=key)
    attrs: dict[str, str] = {}
    for attr in _ATTR.finditer(match.group("attrs") or ""):
        attrs[attr.group(1)] = attr.group(2) if attr.group(2) is not None else ""
    name = match.group("name")
    return AriaNode(role=match.group("role"), name=_unquote(name) if name else "", attrs=attrs)


# The common line body in one match: role, optional plain name, attributes, optional value.
# Bodies it does not fit (single-quoted keys, escaped names) take the general path below.
_FAST = re.compile(r'([a-z][\w-]*)(?: "([^"\\]*)")?((?: \[[^\]]*\])*)(?:(:)(?: (.*))?)?$')
_PROP = re.compile(r"- /(\w+): (.*)$")


def _fast_attrs(attr_text: str) -> dict[str, str]:
    """``" [ref=e4] [cursor=pointer]"`` -> ``{"ref": "e4", "cursor": "pointer"}``.

    Splitting beats a regex scan here: this runs for most lines of every snapshot."""
    attrs: dict[str, str] = {}
    for piece in attr_text[2:-1].split("] ["):
        key, _, value = piece.partition("=")
        attrs[key] = value
    return attrs


@dataclass(frozen=True)
class ParsedSnapshot:
    """A parsed snapshot text, kept so that the next text can be parsed against it."""

    lines: list[str]
    roots: list[AriaNode]
    starts: list[AriaNode | None]  # the node each line starts, if it starts one
    reused: int = 0  # lines taken over from the previous parse


def parse_aria_snapshot(text: str) -> list[AriaNode]:
    """Parse snapshot text into its top-level nodes."""
    return parse_snapshot_text(text).roots


def _common_ends(old: list[str], new: list[str]) -> tuple[int, int]:
    """How many lines the two texts share at their start, then at their end (not overlapping)."""
    limit = min(len(old), len(new))
    head = 0
    while head + 64 <= limit and old[head : head + 64] == new[head : head + 64]:
        head += 64  # slices compare in C: whole runs of equal lines at once
    while head < limit and old[head] == new[head]:
        head += 1
    tail = 0
    room = limit - head
    n, m = len(old), len(new)
    while tail + 64 <= room and old[n - tail - 64 : n - tail] == new[m - tail - 64 : m - tail]:
        tail += 64
    while tail < room and old[n - tail - 1] == new[m - tail - 1]:
        tail += 1
    return head, tail


def _closes(lines: list[str], index: int, indent: int) -> bool:
    """Whether line ``index`` ends a node indented by ``indent`` (the text's end does too)."""
    if index >= len(lines):
        return True
    line = lines[index]
    body = line.lstrip(" ")
    return body[:2] == "- " and len(line) - len(body) <= indent


def parse_snapshot_text(text: str, previous: ParsedSnapshot | None = None) -> ParsedSnapshot:
    """Parse snapshot text, taking over from ``previous`` the nodes whose text is unchanged.

    A node is taken over with its whole subtree, as the same object, so whatever the caller
    kept on it (``rendered``) or did to it comes along: a caller that changes nodes in ways a
    later text would not must not pass that parse as ``previous``.

    This runs on every snapshot, after the browser's part is done, so its time is all added to
    Playwright's own call: the loop keeps to one regex match per common line, and the stacks
    (indents, nodes, first lines) avoid a tuple per line.
    """
    lines = text.split("\n")
    count = len(lines)
    starts: list[AriaNode | None] = [None] * count
    roots: list[AriaNode] = []
    indents: list[int] = []
    nodes: list[AriaNode] = []
    firsts: list[int] = []
    fast = _FAST.match
    prop = _PROP.match
    head = tail_from = shift = reused = 0
    old_starts: list[AriaNode | None] = []
    if previous is not None:
        head, tail = _common_ends(previous.lines, lines)
        tail_from = count - tail
        shift = count - len(previous.lines)
        old_starts = previous.starts
    index = 0
    while index < count:
        raw = lines[index]
        body = raw.lstrip(" ")
        if body[:2] != "- ":
            index += 1
            continue
        indent = len(raw) - len(body)
        while indents and indents[-1] >= indent:
            indents.pop()
            nodes.pop().size = index - firsts.pop()
        if body[2:3] == "/" and nodes:
            property_line = prop(body)
            if property_line is not None:
                nodes[-1].props[property_line.group(1)] = _unquote(property_line.group(2))
                index += 1
                continue
        if old_starts and (index < head or index >= tail_from):
            old_index = index if index < head else index - shift
            kept = old_starts[old_index]
            if kept is not None:
                end = index + kept.size
                # In the tail, the node and all that follows it are unchanged; in the head, the
                # line that closes it must be unchanged too, or close it still.
                if (
                    index >= tail_from
                    or end < head
                    or (end == head and _closes(lines, end, indent))
                ):
                    (nodes[-1].children if nodes else roots).append(kept)
                    starts[index:end] = old_starts[old_index : old_index + kept.size]
                    reused += kept.size
                    index = end
                    continue
        node = _parse_line(body, fast, nodes)
        if node is None:
            index += 1
            continue
        if nodes:
            nodes[-1].children.append(node)
        else:
            roots.append(node)
        starts[index] = node
        indents.append(indent)
        nodes.append(node)
        firsts.append(index)
        index += 1
    while nodes:
        nodes.pop().size = count - firsts.pop()
    return ParsedSnapshot(lines, roots, starts, reused)


def _parse_line(body: str, fast: Any, nodes: list[AriaNode]) -> AriaNode | None:
    """The node a line body (``- ...``) starts, or None when it is a property of the last one."""
    quick = fast(body, 2)
    if quick is not None:
        role, name, attr_text, _colon, value = quick.groups()
        if role == "text":
            return AriaNode("text", "", {}, _unquote(value) if value else "")
        node = AriaNode(role, name or "", _fast_attrs(attr_text) if attr_text else {})
        if value:
            node.text = _unquote(value) if value[0] in "\"'" else value
        return node
    key, value, _ = _split_key_value(body[2:])
    if key.startswith("/") and nodes:
        nodes[-1].props[key[1:]] = value or ""
        return None
    if key == "text":
        return AriaNode(role="text", text=value or "")
    node = _parse_key(key)
    if value is not None:
        node.text = value
    return node
