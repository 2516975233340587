"""An MCP server: our snapshots, refs and sessions for any MCP client.

``agent mcp`` serves it over stdio (:func:`serve_stdio`); ``agent serve`` also mounts it over
Streamable HTTP at ``/mcp`` (:func:`mount`). Its browser tools carry Playwright MCP's names and
arguments (``browser_navigate``, ``browser_snapshot``, ``browser_click`` with ``target``, ...),
so prompts and clients written for it work unchanged; ``scrape``, ``interact`` and
``stop_interaction`` give the Firecrawl-style sessions of the HTTP server. It is a face over the
session service (``agent.service``), as the HTTP server is; neither face imports the other.
"""

from __future__ import annotations

from agent.mcp.catalog import BROWSER_TOOLS, SESSION_TOOLS, mcp_tools
from agent.mcp.context import McpToolContext
from agent.mcp.http import MCP_PATH, mount
from agent.mcp.server import build_server, dispatch
from agent.mcp.sessions import ClientSessions
from agent.mcp.stdio import serve_stdio

__all__ = [
    "BROWSER_TOOLS",
    "MCP_PATH",
    "SESSION_TOOLS",
    "ClientSessions",
    "McpToolContext",
    "build_server",
    "dispatch",
    "mcp_tools",
    "mount",
    "serve_stdio",
]
