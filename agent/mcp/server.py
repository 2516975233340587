"""The MCP server: the official SDK's low-level ``Server``, listing our tools and running them.

The same ``Server`` runs over stdio (``agent mcp``) and over Streamable HTTP (``/mcp`` of
``agent serve``); the two differ only in where a client's ``ClientSessions`` comes from, which
the transport passes in as ``clients_of``. Every failure the model can act on, including a
refused request (no such session, too many sessions) and a lost browser, is an ``isError``
result with a message saying what to do; a protocol error is left for a bug.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from mcp.server import Server, ServerRequestContext
from mcp.types import (
    CallToolRequestParams,
    CallToolResult,
    ContentBlock,
    ImageContent,
    ListToolsResult,
    PaginatedRequestParams,
    TextContent,
)

from agent.errors import AgentError, RequestError, SessionLostError, ToolError, first_line, one_line
from agent.mcp.catalog import BROWSER_TOOLS, SESSION_TOOLS, mcp_tools
from agent.mcp.dialogs import blocked_message, run_catching_dialogs
from agent.mcp.sessions import ClientSessions
from agent.mcp.warmup import abandon, claim_prepared, navigating, preparing
from tools.base import Tool, ToolOutcome, call_tool

__all__ = ["INSTRUCTIONS", "ClientsOf", "build_server", "dispatch", "to_result"]

log = logging.getLogger(__name__)

ClientsOf = Callable[[ServerRequestContext[Any, Any]], Awaitable[ClientSessions]]
"""Finds the ``ClientSessions`` of the client a request comes from."""

INSTRUCTIONS = (
    "Drive a real Chromium. browser_navigate opens a page; browser_snapshot shows it as text "
    "where every element you can act on has a ref like @e3: pass it as target to "
    "browser_click, browser_type and the other tools. Refs stay valid while the element is on "
    "the page; a stale ref is reported, never acted on. Action results are short and say what "
    "changed (navigation, new tab, dialog); take a snapshot when you need to see the page, or "
    "browser_snapshot with mode changes for only what changed. Snapshots are capped in tokens "
    "and paged. scrape opens further sessions; pass their session_id to any browser tool or "
    "to interact."
)

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def build_server(clients_of: ClientsOf) -> Server[Any]:
    """A ``Server`` offering every tool, for clients found by ``clients_of``."""

    async def list_tools(
        _ctx: ServerRequestContext[Any, Any], _params: PaginatedRequestParams | None
    ) -> ListToolsResult:
        return ListToolsResult(tools=mcp_tools())

    async def call(
        ctx: ServerRequestContext[Any, Any], params: CallToolRequestParams
    ) -> CallToolResult:
        # Over HTTP the SDK runs the call in its POST's context: the call counts for that
        # request's key (usage, budget) and carries its id (tests/observability/test_usage.py).
        clients = await clients_of(ctx)
        return to_result(await dispatch(clients, params.name, dict(params.arguments or {})))

    return Server(
        "browser-agent",
        version=_version(),
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call,
    )


def _version() -> str:
    try:
        return version("browser-agent")
    except PackageNotFoundError:
        return "0"


async def dispatch(clients: ClientSessions, name: str, arguments: dict[str, Any]) -> ToolOutcome:
    """Run one tool call for a client; every failure comes back as an error outcome."""
    try:
        if name in BROWSER_TOOLS:
            return await _on_page(clients, BROWSER_TOOLS[name], arguments)
        if name in SESSION_TOOLS:
            return await call_tool(SESSION_TOOLS[name], clients, arguments)
        known = ", ".join([*BROWSER_TOOLS, *SESSION_TOOLS])
        return ToolOutcome(f"There is no tool named {name!r}. Available tools: {known}.", True)
    except RequestError as exc:
        return ToolOutcome(f"{exc.code}: {exc.message}", True)
    except SessionLostError as exc:
        return ToolOutcome(
            f"{exc} The session is gone: call the tool again without session_id to get a new "
            "default browser, or scrape again.",
            True,
        )
    except ToolError as exc:  # raised before a tool ran (e.g. no default session to use)
        return ToolOutcome(str(exc), True)
    except AgentError as exc:  # misconfiguration (no model for prompts), no browser to start
        return ToolOutcome(one_line(exc), True)
    except Exception as exc:
        log.exception("MCP tool %s failed", name)
        return ToolOutcome(
            f"{name} failed unexpectedly ({type(exc).__name__}: {first_line(exc)}); the "
            "server's log has the details.",
            True,
        )


async def _on_page(
    clients: ClientSessions, selected: Tool, arguments: dict[str, Any]
) -> ToolOutcome:
    session_id = arguments.pop("session_id", None)
    if session_id is not None and not isinstance(session_id, str):
        return ToolOutcome(f"Invalid arguments for {selected.name}: session_id is a string.", True)
    async with clients.use(session_id) as (_served, ctx):
        if selected.name != "browser_handle_dialog" and (
            blocked := blocked_message(ctx, selected.name)
        ):
            return ToolOutcome(blocked, True)
        plain = selected.name == "browser_snapshot" and arguments.get("target") is None
        if not plain or navigating(ctx):  # ``navigating`` watches the page from now on
            abandon(ctx)  # a call the look is not for, or cannot be had for, does not wait
        arrived_during = preparing(ctx)
        async with ctx.session.lock:  # one call at a time per page, prompts and code included
            claim_prepared(ctx, arrived_during)
            outcome = await run_catching_dialogs(
                ctx, selected.name, lambda: call_tool(selected, ctx, arguments)
            )
    if outcome.failure is not None:  # a Playwright error no tool foresaw: worth a retry
        return replace(outcome, content=outcome.content + ". Try again.")
    return outcome


def to_result(outcome: ToolOutcome) -> CallToolResult:
    """An outcome as MCP's ``CallToolResult``: its text, then its images."""
    content: list[ContentBlock] = [
        TextContent(type="text", text=_LONE_SURROGATE.sub("\ufffd", outcome.content))
    ]
    content += [
        ImageContent(
            type="image",
            data=base64.b64encode(image.data).decode("ascii"),
            mime_type=image.mime_type,
        )
        for image in outcome.images
    ]
    return CallToolResult(content=content, is_error=outcome.is_error)
