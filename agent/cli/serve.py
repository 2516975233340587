"""``agent serve``: run the Firecrawl v2-compatible HTTP server."""

from __future__ import annotations

import argparse
import logging
from typing import Any

__all__ = ["register"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the Firecrawl v2-compatible HTTP server (and MCP at /mcp)",
        description="Serve POST /v2/scrape, POST/DELETE /v2/scrape/{id}/interact, live views, "
        "and the MCP server over Streamable HTTP at /mcp. "
        "Settings come from AGENT_* environment variables (AGENT_API_KEYS, AGENT_MAX_SESSIONS, "
        "AGENT_SESSION_TTL, AGENT_PROFILES_DIR, AGENT_MODEL, ...); flags override them.",
    )
    parser.add_argument("--host", help="address to listen on (AGENT_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (AGENT_PORT, default 3002)")
    parser.add_argument("--log-level", default="info", help="uvicorn log level (default info)")
    parser.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from agent.browser.launch import check_browser_box
    from agent.config import load_settings
    from agent.executors.sandbox import check_sandbox
    from agent.mcp import mount
    from agent.server import ServerSettings, create_app

    overrides: dict[str, Any] = {}
    if args.host is not None:
        overrides["host"] = args.host
    if args.port is not None:
        overrides["port"] = args.port
    settings = ServerSettings(**overrides)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    if warning := settings.exposure_warning():
        logging.getLogger("agent.serve").warning(warning)
    agent_settings = load_settings()
    # A sandbox that cannot be set up is a start-up error, not a failure of the first code call.
    check_sandbox(agent_settings)
    if not settings.browser_endpoints or any(e.kind == "local" for e in settings.browser_endpoints):
        check_browser_box(agent_settings)  # so is a browser box that cannot be made
    if agent_settings.sandbox is None:
        logging.getLogger("agent.serve").warning(
            "AGENT_SANDBOX=none: code runs as this server's own user, with its files and "
            "network. Use it for a trusted single user only."
        )
    if agent_settings.browser_sandbox is None:
        logging.getLogger("agent.serve").warning(
            "AGENT_BROWSER_SANDBOX=none: each session's browser runs as this server's own user, "
            "with its files. Use it for a trusted single user only."
        )
    app = create_app(settings, agent_settings=agent_settings)
    mount(app)  # MCP over Streamable HTTP at /mcp, behind the same API keys
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=args.log_level)
    return 0
