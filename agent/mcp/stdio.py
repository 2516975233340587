"""The MCP server over stdio: one client per process (``agent mcp``).

Everything the process opens belongs to that one client. The client stops the server by closing
stdin (then, per the MCP spec, by SIGTERM and SIGKILL if it lingers; the official SDK waits two
seconds between each); on the first of these, every session it opened is closed, and a second
signal does not interrupt that: Chromium runs in a process group of its own, which the client's
kill of ours would not reach.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import TYPE_CHECKING, Any

from mcp.server.stdio import stdio_server

from agent.mcp.server import build_server
from agent.mcp.sessions import ClientSessions
from agent.observability import use_telemetry

if TYPE_CHECKING:
    from mcp.server import Server, ServerRequestContext

    from agent.service.state import ServerState

__all__ = ["serve_stdio"]

log = logging.getLogger(__name__)

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


async def serve_stdio(state: ServerState) -> bool:
    """Serve MCP on this process's stdin and stdout until the client closes stdin, or SIGTERM
    or SIGINT arrives; then close every session.

    ``state`` is started here (its registry, its usage counts) and closed on the way out.
    Nothing else may write to stdout meanwhile: it carries the protocol.

    Returns:
        True when a signal stopped it. The SDK reads stdin in a worker thread that only a line
        or the end of stdin frees, so the caller should then end the process rather than wait
        for that thread (``agent mcp`` does).
    """
    clients = ClientSessions(state)

    async def clients_of(_ctx: ServerRequestContext[Any, Any]) -> ClientSessions:
        return clients

    server = build_server(clients_of)
    use_telemetry(state.telemetry)  # the tools' spans and counts go to this state's
    await state.start()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in _STOP_SIGNALS:
        loop.add_signal_handler(signum, stop.set)
    serving = asyncio.ensure_future(_serve(server))
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        for signum in _STOP_SIGNALS:
            loop.add_signal_handler(signum, log.info, "already stopping: closing the browsers")
        try:
            await clients.close()
            await state.close()
        finally:
            for signum in _STOP_SIGNALS:
                loop.remove_signal_handler(signum)
    if serving.done():
        serving.result()  # an error of the transport, after the browsers are closed
        return False
    log.info("stopped by a signal; every session is closed")
    serving.cancel()
    return True


async def _serve(server: Server[Any]) -> None:
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())
