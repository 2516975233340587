"""Rendering a parsed aria tree into the snapshot's lines, with our refs.

Only what the model acts on or reads is kept: unnamed wrappers give their children their place,
a form control's value and a label's text fold into its line, a table row of plain cells is one
line. Inline clickables the page scan found are first placed under the text run that holds them.

A subtree's lines depend only on the subtree, the depth it is drawn at, the mode, the depth cap,
the document and the refs it was given. So the lines of every drawn node that has children are
kept on it (``AriaNode.rendered``), and a node the parse took over unchanged from the last
snapshot (``aria_tree.parse_snapshot_text``) is drawn by copying them, without a ref issued or a
line built: a page that changed in one place costs the render of that place and its ancestors.
Clickables are placed on copies (of the nodes that take them and of their ancestors), never on
the parsed nodes, so a page with clickables keeps its kept lines too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from agent.browser.aria_tree import AriaNode
from agent.browser.budget import Line
from agent.browser.grammar import element_line, heading_line, row_line
from agent.browser.refs import RefRegistry

__all__ = ["INTERACTIVE_ROLES", "SnapshotMode", "render_tree"]

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


def render_tree(
    roots: list[AriaNode],
    items: list[dict[str, Any]],
    frame_items: list[dict[str, Any]],
    registry: RefRegistry,
    doc: float,
    mode: SnapshotMode,
    max_depth: int | None,
) -> list[Line]:
    """Place the scanned clickables in the parsed tree and render it into lines with refs.

    The parsed nodes are tidied (once and for all), then left as they are: a clickable is
    placed on a copy of the node that takes it and of that node's ancestors, so every other
    subtree keeps what its last render kept, and the next parse can take the nodes over.
    """
    for root in roots:
        _tidy(root)
    if items or frame_items:
        roots = _with_clickables(roots, items, frame_items)
    return _Renderer(registry, doc, mode, max_depth).render(roots)


def _norm(text: str) -> str:
    return " ".join(text.split())


@dataclass(slots=True)
class _Run:
    """A node holding a run of text a clickable may sit in, with its ancestors (root first)."""

    node: AriaNode
    ancestors: tuple[AriaNode, ...]
    in_frame: bool


def _text_runs(roots: list[AriaNode]) -> tuple[list[_Run], bool]:
    """The text runs of the tree in document order, and whether any iframe shows text."""
    runs: list[_Run] = []
    stack: list[AriaNode] = []
    frame_text = False

    def visit(node: AriaNode, in_frame: bool) -> None:
        nonlocal frame_text
        if in_frame and (node.text or node.name):
            frame_text = True
        if node.role not in INTERACTIVE_ROLES and (
            node.text or (node.name and node.role in _TRANSPARENT_ROLES)
        ):
            runs.append(_Run(node, tuple(stack), in_frame))
        if node.children:
            stack.append(node)
            inside = in_frame or node.role == "iframe"
            for child in node.children:
                visit(child, inside)
            stack.pop()

    for root in roots:
        visit(root, False)
    return runs, frame_text


def _with_clickables(
    roots: list[AriaNode], items: list[dict[str, Any]], frame_items: list[dict[str, Any]]
) -> list[AriaNode]:
    """The tree with each inline clickable placed under the text run that contains it.

    The text run is found by the clickable's own text and the text of its enclosing block, so
    that a word that also appears earlier (say, in an instruction) lands in the right place;
    a frame's clickables go in frame content and the page's outside it.
    """
    runs, frame_text = _text_runs(roots)
    items = list(items)
    # A frame's clickables need some iframe text to sit in; without any (ads, trackers,
    # failed embeds) they would only pile up at the end of the snapshot.
    if frame_items and frame_text:
        items.extend(frame_items)
    if not items:
        return roots
    normalised = [_norm(run.node.text or run.node.name) for run in runs]
    taken: dict[int, list[AriaNode]] = {}  # run index -> the clickables placed under it
    become: dict[int, AriaNode] = {}  # run index -> the clickable the whole run is
    leftovers: list[AriaNode] = []
    position = 0
    for item in items:
        wanted = _norm(str(item["text"]))
        context = _norm(str(item.get("context", "")))[:40]
        clickable = AriaNode(role="clickable", name=wanted, attrs={"clickable": str(item["id"])})
        in_frame = bool(item.get("in_frame"))
        candidates = [
            i for i in range(len(runs)) if wanted in normalised[i] and runs[i].in_frame == in_frame
        ]
        in_context = [i for i in candidates if context and context[:20] in normalised[i]]
        after = [i for i in (in_context or candidates) if i >= position]
        fallback = in_context or candidates
        chosen = after[0] if after else (fallback[0] if fallback else None)
        if chosen is None:
            leftovers.append(clickable)
            continue
        position = chosen
        if normalised[chosen] == wanted and not runs[chosen].node.children and chosen not in taken:
            # The whole text run is the clickable: show it once, as the clickable.
            become[chosen] = clickable
            normalised[chosen] = ""
        else:
            taken.setdefault(chosen, []).append(clickable)
    return _Placed(roots).apply(runs, taken, become, leftovers)


class _Placed:
    """Copies of the nodes that take clickables and of their ancestors, linked into a copy of
    the roots; every other node is shared with the parse."""

    def __init__(self, roots: list[AriaNode]) -> None:
        self.roots = list(roots)
        self.copies: dict[int, AriaNode] = {}

    def apply(
        self,
        runs: list[_Run],
        taken: dict[int, list[AriaNode]],
        become: dict[int, AriaNode],
        leftovers: list[AriaNode],
    ) -> list[AriaNode]:
        for index, clickables in taken.items():
            self._copy(runs[index]).children.extend(clickables)
        for index, clickable in become.items():
            host = self._copy(runs[index])
            host.role, host.name, host.text = "clickable", clickable.name, ""
            host.attrs = clickable.attrs
        if leftovers and self.roots:
            self._copy(_Run(self.roots[-1], (), False)).children.extend(leftovers)
        return self.roots

    def _copy(self, run: _Run) -> AriaNode:
        """The copy of ``run``'s node, in place in copies of its ancestors."""
        parent: AriaNode | None = None
        for node in (*run.ancestors, run.node):
            parent = self._linked(parent, node)
        assert parent is not None
        return parent

    def _linked(self, parent: AriaNode | None, node: AriaNode) -> AriaNode:
        known = self.copies.get(id(node))
        if known is not None:
            return known
        copied = self.copies[id(node)] = AriaNode(
            node.role, node.name, node.attrs, node.text, node.props, list(node.children), node.size
        )
        siblings = self.roots if parent is None else parent.children
        for i, sibling in enumerate(siblings):
            if sibling is node:
                siblings[i] = copied
                break
        return copied


class _Renderer:
    def __init__(
        self,
        registry: RefRegistry,
        doc: float,
        mode: SnapshotMode,
        max_depth: int | None,
    ) -> None:
        self.registry = registry
        self.doc = doc
        self.mode = mode
        self.max_depth = max_depth
        self.lines: list[Line] = []
        # What a subtree's kept lines must have been drawn with to be copied; a remapped ref
        # (``RefRegistry.remaps``) may change any line that holds one, so it changes the key.
        self.key = (doc, mode, max_depth, registry.remaps)

    def render(self, roots: list[AriaNode]) -> list[Line]:
        self._children(roots, 0)
        return self.lines

    def _children(self, nodes: list[AriaNode], depth: int) -> None:
        for node in nodes:
            self._node(node, depth)

    def _node(self, node: AriaNode, depth: int) -> None:
        # Called once per element of the page: the hot loop of rendering, kept to plain lookups.
        # A leaf is drawn again (as cheap as copying); a subtree is copied when it can be.
        key = self.key
        if not node.children:
            self._draw(node, depth)
            return
        kept = node.rendered
        if kept is not None and kept[0] == depth and kept[1] == key:
            self.lines += kept[2][kept[3] : kept[4]]
            return
        start = len(self.lines)
        self._draw(node, depth)
        node.rendered = (depth, key, self.lines, start, len(self.lines))

    def _draw(self, node: AriaNode, depth: int) -> None:
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
    own line says. A subtree drawn before (``rendered``) was tidied then, and tidying is done
    once and for all: it is left as it is.
    """
    children = node.children
    if not children or node.rendered is not None:
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
