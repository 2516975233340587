"""tools/ owns every browser action: the faces (MCP, ``agent browser``, the HTTP server and its
session service, the command line) translate arguments and word outcomes, and never call a
Playwright element action themselves (issue 24). Read from the source, with ``ast``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FACES = (
    "agent/mcp", "agent/executors", "agent/server", "agent/service", "agent/cli", "agent/recipes",
    "agent/prompt_cache.py",
)  # fmt: skip

ELEMENT_ACTIONS = frozenset(
    {
        "check", "click", "dblclick", "dispatch_event", "drag_and_drop", "drag_to", "fill",
        "focus", "hover", "press", "press_sequentially", "screenshot", "scroll_into_view_if_needed",
        "select_option", "select_text", "set_checked", "set_input_files", "tap", "type",
        "uncheck", "inner_text", "inner_html", "input_value", "get_attribute", "is_visible",
        "is_enabled", "is_checked", "wait_for", "wait_for_element_state",
    }
)  # fmt: skip
"""Playwright's methods that act on (or read) one element or the page's input devices."""

ON_AN_ELEMENT = frozenset({"evaluate", "evaluate_handle", "query_selector_all", "locator"})
"""Methods that are element actions when called on something other than the page itself."""

NOT_PLAYWRIGHT = frozenset({"state.usage.check"})
"""Calls of these names that are no browser's: a key's usage budget is checked, not ticked."""


def _imported(tree: ast.Module) -> set[str]:
    """Names a module binds by import: ``act.click`` on ``from tools import element_actions as
    act`` is the tools' own action, and ``asyncio.wait_for`` no element's."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return names


def _receiver(call: ast.Call) -> str:
    func = call.func
    assert isinstance(func, ast.Attribute)
    return ast.unparse(func.value)


def _calls(path: Path) -> list[str]:
    """``file:line receiver.method(...)`` for each element action called in ``path``."""
    found = []
    tree = ast.parse(path.read_text(), str(path))
    imported = _imported(tree)
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        name, receiver = node.func.attr, _receiver(node)
        if receiver.split(".")[0] in imported or f"{receiver}.{name}" in NOT_PLAYWRIGHT:
            continue
        on_page = receiver == "page" or receiver.endswith(".page")
        if name in ELEMENT_ACTIONS or (name in ON_AN_ELEMENT and not on_page):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} {receiver}.{name}(...)")
    return found


def _face_files() -> list[Path]:
    faces = [ROOT / face for face in FACES]
    return sorted(p for face in faces for p in ([face] if face.is_file() else face.rglob("*.py")))


def test_the_faces_call_no_playwright_element_action() -> None:
    calls = [call for path in _face_files() for call in _calls(path)]
    assert not calls, (
        "Element actions belong in tools/ (tools.element_actions, tools.page_actions): call "
        "those from the face instead.\n" + "\n".join(calls)
    )


@pytest.mark.parametrize(
    ("source", "flagged"),
    [
        ("await locator.click()", True),
        ("await found.element.fill('x')", True),
        ("await page.keyboard.press('Enter')", True),
        ("await handle.evaluate('(el) => el.id')", True),
        ("await session.page.evaluate('1')", False),
        ("await act.click(ctx, found)", False),
        ("await page.goto(url)", False),
    ],
)
def test_the_scan_sees_an_element_action(tmp_path: Path, source: str, flagged: bool) -> None:
    """The scan itself can fail: a face that clicks is caught, a page-level call is not."""
    face = tmp_path / "face.py"
    face.write_text(
        "from tools import element_actions as act\n\n"
        f"async def f(page, locator, found, handle, session, url, ctx):\n    {source}\n"
    )
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        assert bool(_calls(face)) is flagged
    finally:
        ROOT = saved
