"""Parse the text of Playwright's AI-mode aria snapshot into a tree.

Playwright renders ``page.aria_snapshot(mode="ai")`` as YAML-like lines::

    - link "Docs" [ref=e4] [cursor=pointer]:
      - /url: /docs
    - textbox "Name" [ref=e7]: bob
    - 'button "a: b" [ref=e9]'

This module turns that text into ``AriaNode`` objects so the snapshot module can filter and
re-render it; it knows nothing of refs we issue or of token budgets.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

__all__ = ["AriaNode", "parse_aria_snapshot"]


@dataclass(slots=True)
class AriaNode:
    """One element (or text run) of the aria snapshot."""

    role: str
    name: str = ""
    attrs: dict[str, str] = field(default_factory=dict)
    text: str = ""  # inline value after the colon: a text run, a textbox's value
    props: dict[str, str] = field(default_factory=dict)  # "/url: ..." style child lines
    children: list[AriaNode] = field(default_factory=list)

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


def parse_aria_snapshot(text: str) -> list[AriaNode]:
    """Parse snapshot text into its top-level nodes.

    This runs on every snapshot, after the browser's part is done, so its time is all added to
    Playwright's own call: the loop keeps to one regex match per common line, and the two stacks
    (indents, nodes) avoid a tuple per line.
    """
    roots: list[AriaNode] = []
    indents: list[int] = []
    nodes: list[AriaNode] = []
    fast = _FAST.match
    prop = _PROP.match
    for raw in text.split("\n"):
        body = raw.lstrip(" ")
        if body[:2] != "- ":
            continue
        indent = len(raw) - len(body)
        while indents and indents[-1] >= indent:
            indents.pop()
            nodes.pop()
        if body[2:3] == "/" and nodes:
            property_line = prop(body)
            if property_line is not None:
                nodes[-1].props[property_line.group(1)] = _unquote(property_line.group(2))
                continue
        quick = fast(body, 2)
        if quick is not None:
            role, name, attr_text, _colon, value = quick.groups()
            if role == "text":
                node = AriaNode("text", "", {}, _unquote(value) if value else "")
            else:
                node = AriaNode(role, name or "", _fast_attrs(attr_text) if attr_text else {})
                if value:
                    node.text = _unquote(value) if value[0] in "\"'" else value
        else:
            key, value, _ = _split_key_value(body[2:])
            if key.startswith("/") and nodes:
                nodes[-1].props[key[1:]] = value or ""
                continue
            if key == "text":
                node = AriaNode(role="text", text=value or "")
            else:
                node = _parse_key(key)
                if value is not None:
                    node.text = value
        if nodes:
            nodes[-1].children.append(node)
        else:
            roots.append(node)
        indents.append(indent)
        nodes.append(node)
    return roots
