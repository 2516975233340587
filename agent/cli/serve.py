"""``agent serve``: run the Firecrawl v2-compatible HTTP server.

Before anything starts (browsers, the sandbox check), it takes its port: a port already in use is
said at once, with what to do, as exit status ``EXIT_PORT_IN_USE``. The model and the sandbox are
checked next, so a missing key or a box that cannot run code stops it at start rather than
failing the first prompt or code call.
"""

from __future__ import annotations

import argparse
import errno
import logging
import socket
import sys
from typing import TYPE_CHECKING, Any

from agent.cli.options import add_log_options
from agent.errors import ConfigError

if TYPE_CHECKING:
    from agent.config import Settings
    from agent.server import ServerSettings

__all__ = ["EXIT_PORT_IN_USE", "register"]

EXIT_PORT_IN_USE = 4
"""``agent serve``'s exit status when its address is already taken (nothing was started)."""

log = logging.getLogger("agent.serve")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the Firecrawl v2-compatible HTTP server (and MCP at /mcp)",
        description="Serve POST /v2/scrape, POST/DELETE /v2/scrape/{id}/interact, live views, "
        "and the MCP server over Streamable HTTP at /mcp. "
        "Settings come from AGENT_* environment variables (AGENT_API_KEYS, AGENT_MAX_SESSIONS, "
        "AGENT_SESSION_TTL, AGENT_PROFILES_DIR, AGENT_MODEL, ...); flags override them.",
        epilog=f"Exit status: 0 stopped, 1 failed (reason on stderr), {EXIT_PORT_IN_USE} the "
        "port is in use.",
    )
    parser.add_argument("--host", help="address to listen on (AGENT_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (AGENT_PORT, default 3002)")
    add_log_options(parser, level="info", level_help="uvicorn log level")
    parser.set_defaults(handler=_serve)


class PortInUseError(ConfigError):
    """Another process listens on the address ``agent serve`` was asked to use."""


def _serve(args: argparse.Namespace) -> int:
    from agent.config import load_settings
    from agent.models import check_model
    from agent.observability import configure_logging
    from agent.server import ServerSettings

    overrides: dict[str, Any] = {}
    if args.host is not None:
        overrides["host"] = args.host
    if args.port is not None:
        overrides["port"] = args.port
    if getattr(args, "log_format", None) is not None:
        overrides["log_format"] = args.log_format
    settings = ServerSettings(**overrides)
    configure_logging(settings.log_format, args.log_level)
    if warning := settings.exposure_warning():
        log.warning(warning)
    agent_settings = load_settings()
    # A model that cannot be created (unknown provider, missing key) fails here, not on the
    # first prompt; no model at all is allowed (scrapes and code need none).
    check_model(agent_settings)
    try:
        listening = _listen(settings.host, settings.port)
    except PortInUseError as exc:
        print(f"agent serve: {exc}", file=sys.stderr)
        return EXIT_PORT_IN_USE
    with listening:
        import uvicorn

        from agent.mcp import mount
        from agent.server import create_app

        _check_boxes(settings, agent_settings)
        app = create_app(settings, agent_settings=agent_settings)
        mount(app)  # MCP over Streamable HTTP at /mcp, behind the same API keys
        # log_config=None: uvicorn's error and access logs go through the handler set up
        # above, in the format asked for (and through the server's redaction, as every record).
        config = uvicorn.Config(app, log_level=args.log_level, log_config=None)
        server = uvicorn.Server(config)
        host, port = listening.getsockname()[:2]
        log.info("listening on http://%s:%d", f"[{host}]" if ":" in host else host, port)
        try:
            server.run(sockets=[listening])
        except SystemExit:  # uvicorn's way to say the app's start-up failed (logged above)
            pass
    if not server.started:
        raise ConfigError("the server did not start: its start-up failed (see the log above).")
    return 0


def _check_boxes(settings: ServerSettings, agent_settings: Settings) -> None:
    """A code box that cannot run code, or a browser box that cannot be made, is a start-up
    error, not a failure of the first code call or scrape."""
    from agent.browser.launch import check_browser_box
    from agent.executors.box_check import check_code_box

    check_code_box(agent_settings)
    if not settings.browser_endpoints or any(e.kind == "local" for e in settings.browser_endpoints):
        check_browser_box(agent_settings)
    if agent_settings.sandbox is None:
        log.warning(
            "AGENT_SANDBOX=none: code runs as this server's own user, with its files and "
            "network. Use it for a trusted single user only."
        )
    if agent_settings.browser_sandbox is None:
        log.warning(
            "AGENT_BROWSER_SANDBOX=none: each session's browser runs as this server's own user, "
            "with its files. Use it for a trusted single user only."
        )


def _listen(host: str, port: int) -> socket.socket:
    """The server's listening socket, taken now, before any browser starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    # As uvicorn does: a port left in TIME_WAIT by a server that just stopped is free to take.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        where = f"{host}:{port}" if family == socket.AF_INET else f"[{host}]:{port}"
        if exc.errno == errno.EADDRINUSE:
            raise PortInUseError(
                f"port {port} is already in use on {host}: another process listens at {where} "
                f"(perhaps an `agent serve` already running: `curl http://{where}/health`). "
                f"Stop it, or choose another port with --port N or AGENT_PORT=N (and point "
                f"clients at it, e.g. AGENT_SERVER_URL=http://{where.rsplit(':', 1)[0]}:N)."
            ) from None
        raise ConfigError(
            f"cannot listen at {where}: {exc.strerror or exc}. Choose another address with "
            "--host/--port (AGENT_HOST, AGENT_PORT)."
        ) from None
    sock.set_inheritable(True)
    return sock
