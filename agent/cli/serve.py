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
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        help="log lines as text or one JSON object per line (AGENT_LOG_FORMAT, default text)",
    )
    parser.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from agent.config import load_settings
    from agent.executors.sandbox import check_sandbox
    from agent.mcp import mount
    from agent.observability import configure_logging
    from agent.server import ServerSettings, create_app

    overrides: dict[str, Any] = {}
    if args.host is not None:
        overrides["host"] = args.host
    if args.port is not None:
        overrides["port"] = args.port
    if args.log_format is not None:
        overrides["log_format"] = args.log_format
    settings = ServerSettings(**overrides)
    configure_logging(settings.log_format, args.log_level)
    if warning := settings.exposure_warning():
        logging.getLogger("agent.serve").warning(warning)
    agent_settings = load_settings()
    # A sandbox that cannot be set up is a start-up error, not a failure of the first code call.
    check_sandbox(agent_settings)
    if agent_settings.sandbox is None:
        logging.getLogger("agent.serve").warning(
            "AGENT_SANDBOX=none: code runs as this server's own user, with its files and "
            "network. Use it for a trusted single user only."
        )
    app = create_app(settings, agent_settings=agent_settings)
    mount(app)  # MCP over Streamable HTTP at /mcp, behind the same API keys
    # log_config=None: uvicorn's error and access logs go through the handler set up above,
    # in the format asked for (and through the server's redaction, as every record does).
    uvicorn.run(
        app, host=settings.host, port=settings.port, log_level=args.log_level, log_config=None
    )
    return 0
