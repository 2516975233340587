"""Which tools the MCP server offers, and their MCP descriptions, from the typed tools alone.

Every schema is the one ``@tool`` generates from a function's signature, as for the planner's
tools; two generic steps adapt it to MCP clients: browser tools gain the optional ``session_id``
every one of them takes (the dispatcher picks the session with it, the tool never sees it), and
``$ref``/``$defs`` are inlined, since several MCP clients and model APIs do not resolve them.
"""

from __future__ import annotations

import copy
from typing import Any

from mcp.types import Tool as McpTool
from mcp.types import ToolAnnotations
from pydantic import Field, create_model

from agent.mcp.dialogs import browser_handle_dialog
from agent.mcp.element_tools import (
    browser_click,
    browser_fill_form,
    browser_hover,
    browser_press_key,
    browser_select_option,
    browser_type,
)
from agent.mcp.page_tools import (
    browser_evaluate,
    browser_get_text,
    browser_navigate,
    browser_navigate_back,
    browser_snapshot,
    browser_tabs,
    browser_take_screenshot,
    browser_wait_for,
)
from agent.mcp.session_tools import browser_close, interact, scrape, stop_interaction
from tools import SHARED_TOOLS
from tools.base import Tool

__all__ = ["BROWSER_TOOLS", "READ_ONLY", "SESSION_TOOLS", "mcp_tools"]

BROWSER_TOOLS: dict[str, Tool] = {
    t.name: t
    for t in (
        browser_navigate, browser_navigate_back, browser_snapshot, browser_click, browser_type,
        browser_fill_form, browser_press_key, browser_hover, browser_select_option,
        browser_wait_for, browser_take_screenshot, browser_tabs, browser_evaluate,
        browser_handle_dialog, browser_get_text,
    )
} | {
    f"browser_{t.name}": Tool(f"browser_{t.name}", t.description, t.function, t.arguments)
    for t in SHARED_TOOLS
}  # fmt: skip
"""Tools of one session's page, run with the client's ``McpToolContext`` for that session:
Playwright MCP's, then every tool of ``tools.SHARED_TOOLS`` as ``browser_NAME``, generated."""

SESSION_TOOLS: dict[str, Tool] = {
    t.name: t for t in (browser_close, scrape, interact, stop_interaction)
}
"""Tools that open, use or end sessions, run with the client's ``ClientSessions``."""

READ_ONLY = frozenset(
    {"browser_snapshot", "browser_get_text", "browser_take_screenshot", "browser_wait_for"}
)
"""Tools that leave the page as it is (announced to clients as ``readOnlyHint``)."""

_SESSION_ID_DOC = (
    "The session to act on, from scrape; omit it to use this connection's default browser."
)


def mcp_tools() -> list[McpTool]:
    """Every tool as MCP's ``tools/list`` announces it."""
    described = [(t, _in_a_session(t)) for t in BROWSER_TOOLS.values()]
    described += [(t, t) for t in SESSION_TOOLS.values()]
    return [
        McpTool(
            name=t.name,
            description=t.description,
            input_schema=_inline_refs(shown.spec.parameters),
            annotations=ToolAnnotations(read_only_hint=t.name in READ_ONLY, open_world_hint=True),
        )
        for t, shown in described
    ]


def _in_a_session(selected: Tool) -> Tool:
    """``selected`` with the optional ``session_id`` argument every browser tool takes."""
    arguments = create_model(
        f"{selected.name}_in_a_session",
        __base__=selected.arguments,
        session_id=(str | None, Field(None, description=_SESSION_ID_DOC)),
    )
    return Tool(selected.name, selected.description, selected.function, arguments)


def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with every ``$ref`` replaced by the definition it points at (none of ours is
    recursive), and without ``$defs`` or pydantic's generated titles."""
    definitions = schema.get("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                target = definitions[node["$ref"].rsplit("/", 1)[-1]]
                return resolve(copy.deepcopy(target))
            return {
                key: resolve(value)
                for key, value in node.items()
                if key != "$defs" and not (key == "title" and isinstance(value, str))
            }
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved
