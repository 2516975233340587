"""``agent mcp``: serve the MCP server over stdio, for MCP clients that start it themselves
(Claude Desktop, Claude Code, Cursor, VS Code)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from typing import Any

from agent.cli.options import add_log_options

__all__ = ["register"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "mcp",
        help="serve the MCP server over stdio (for Claude Desktop, Cursor, VS Code, ...)",
        description="Serve MCP over stdin/stdout: Playwright MCP's browser tools on our "
        "snapshots and refs, plus scrape/interact/stop_interaction sessions. Browser and model "
        "settings come from AGENT_* variables (AGENT_BROWSER_PATH, AGENT_HEADLESS, "
        "AGENT_MAX_SNAPSHOT_TOKENS, AGENT_MODEL for interact prompts, ...). Logs go to stderr; "
        "every browser closes when the client disconnects. Over HTTP, `agent serve` serves "
        "the same at /mcp.",
    )
    add_log_options(parser, level="warning", level_help="log level on stderr")
    parser.set_defaults(handler=_mcp)


def _mcp(args: argparse.Namespace) -> int:
    from agent.observability import configure_logging

    log_format = args.log_format or os.environ.get("AGENT_LOG_FORMAT", "text").strip().lower()
    # stdout carries the protocol: every log line goes to stderr.
    configure_logging("json" if log_format == "json" else "text", args.log_level, stream=sys.stderr)
    asyncio.run(_serve())
    return 0


async def _serve() -> None:
    from agent.browser.launch import check_browser_box
    from agent.config import load_settings
    from agent.executors.box_check import check_code_box
    from agent.mcp import serve_stdio
    from agent.models import check_model
    from agent.server import ServerSettings, build_state

    agent_settings = load_settings()
    check_model(agent_settings)  # a missing key stops it now, not the first interact prompt
    # As for `agent serve`: the interact tool runs code, in the sandbox; one that cannot be set
    # up is a start-up error, not a failure of the first code call.
    check_code_box(agent_settings)
    overrides: dict[str, Any] = {}
    if "AGENT_WARM_BROWSERS" not in os.environ:
        # One client per process, which may sit idle all day: start a browser when it is used.
        overrides["warm_browsers"] = 0
    settings = ServerSettings(**overrides)
    if not settings.browser_endpoints or any(e.kind == "local" for e in settings.browser_endpoints):
        await asyncio.to_thread(check_browser_box, agent_settings)  # as the sandbox, at start-up
    if await serve_stdio(build_state(settings, agent_settings=agent_settings)):
        # Stopped by a signal, with every browser closed. The SDK's stdin reader may still be
        # blocked in a thread, which asyncio.run would wait for until the client wrote again.
        logging.shutdown()
        os._exit(0)
