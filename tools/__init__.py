"""The browser tools the planner, the ``agent browser`` command and the MCP server expose, as
typed async functions of a ``ToolContext``."""

from __future__ import annotations

from tools.actions import (
    check,
    click,
    dblclick,
    drag,
    fill,
    hover,
    press,
    select_option,
    type_text,
    uncheck,
)
from tools.base import Tool, ToolBox, ToolImage, ToolOutcome, ToolSpec, call_tool, tool
from tools.context import ToolContext
from tools.navigation import go_back, navigate, scroll, wait_for
from tools.reading import get_text, snapshot

__all__ = [
    "BROWSER_TOOLS",
    "SHARED_TOOLS",
    "Tool",
    "ToolBox",
    "ToolContext",
    "ToolImage",
    "ToolOutcome",
    "ToolSpec",
    "call_tool",
    "check",
    "click",
    "dblclick",
    "default_toolbox",
    "drag",
    "fill",
    "get_text",
    "go_back",
    "hover",
    "navigate",
    "press",
    "scroll",
    "select_option",
    "snapshot",
    "tool",
    "type_text",
    "uncheck",
    "wait_for",
]

BROWSER_TOOLS: tuple[Tool, ...] = (
    click, fill, type_text, press, scroll, get_text, select_option, check, uncheck, hover,
    wait_for, navigate, go_back, snapshot, dblclick,
)  # fmt: skip
"""What the planner offers the model. A tool added here changes every recorded model request:
re-record the eval cassettes (CONTRIBUTING.md, "Add a tool")."""

SHARED_TOOLS: tuple[Tool, ...] = (drag,)
"""Tools every other face offers as they are: MCP as ``browser_NAME`` (``agent.mcp.catalog``)
and ``agent browser`` as ``NAME``, with the arguments its ``COMMANDS`` row declares
(``agent.executors.browser_commands``). Nothing else is written for them."""


def default_toolbox() -> ToolBox:
    """Every browser tool, as the planner offers them."""
    return ToolBox(BROWSER_TOOLS)
