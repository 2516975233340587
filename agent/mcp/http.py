"""The MCP server over Streamable HTTP, mounted at ``/mcp`` of the HTTP server (``agent serve``).

It shares the app's session registry, settings and model, and its API keys: a request without
one of ``AGENT_API_KEYS`` (when set) is refused with the same 401 as the Firecrawl endpoints.
Each MCP session (``Mcp-Session-Id``) is one client with its own default browser; its browsers
close when it ends: the client's DELETE, the idle timeout (the server's activity TTL; an open
event stream keeps it alive), or the server's shutdown.
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.requests import Request
from starlette.routing import Route

from agent.mcp.server import build_server
from agent.mcp.sessions import ClientSessions
from agent.observability import note_key
from agent.service.keys import key_of_request
from agent.service.state import ServerState

if TYPE_CHECKING:
    from fastapi import FastAPI
    from mcp.server import ServerRequestContext
    from mcp.server.connection import Connection
    from starlette.types import ASGIApp, Receive, Scope, Send

    from agent.service.settings import ServerSettings

__all__ = ["MCP_PATH", "mount"]

MCP_PATH = "/mcp"

_CLIENTS_KEY = "browser-agent.clients"


def mount(app: FastAPI, path: str = MCP_PATH) -> None:
    """Serve MCP over Streamable HTTP at ``path`` of an app made by ``create_app``.

    Call it before the app starts: it wraps the app's lifespan, so the MCP sessions run (and
    end, closing their browsers) inside it, before the registry closes.
    """
    state = app.state.server
    assert isinstance(state, ServerState), "mount() takes an app made by create_app()"
    manager = StreamableHTTPSessionManager(
        app=build_server(_connection_clients(state)),
        session_idle_timeout=state.settings.activity_ttl,
        security_settings=_rebinding_guard(state.settings),
    )
    # A Route whose endpoint is an ASGI app answers every method at exactly ``path`` (GET for
    # the event stream, POST, DELETE), with no redirect to a trailing slash.
    endpoint = _RequireApiKey(StreamableHTTPASGIApp(manager), state)
    app.router.routes.append(Route(path, endpoint=endpoint, include_in_schema=False))
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(running: Any) -> AsyncIterator[Any]:
        async with inner(running) as value, manager.run():
            yield value

    app.router.lifespan_context = lifespan


def _connection_clients(state: ServerState) -> Any:
    async def clients_of(ctx: ServerRequestContext[Any, Any]) -> ClientSessions:
        connection = _connection(ctx)
        if connection.session_id is None:
            # The sessionless protocol (2026-07-28): nothing outlives this request.
            return ClientSessions(state, lasting=False)
        clients = connection.state.get(_CLIENTS_KEY)
        if clients is None:  # no await since the lookup: one client object per connection
            clients = ClientSessions(state)
            connection.state[_CLIENTS_KEY] = clients
            connection.exit_stack.push_async_callback(clients.close)
        assert isinstance(clients, ClientSessions)
        return clients

    return clients_of


def _connection(ctx: ServerRequestContext[Any, Any]) -> Connection:
    """The SDK's per-connection object (its state and its exit stack, unwound when the MCP
    session ends). mcp 2.3 keeps it private on the request's session; its migration guide plans
    a public accessor, hence the pinned ``mcp<2.4`` and this one place that reaches in."""
    connection: Connection = ctx.session._connection
    return connection


def _rebinding_guard(settings: ServerSettings) -> TransportSecuritySettings | None:
    """DNS-rebinding protection (Host and Origin checks) for a server on loopback, as the SDK
    sets up for its own apps; a server bound elsewhere is reached by names we cannot know."""
    try:
        loopback = settings.host == "localhost" or ipaddress.ip_address(settings.host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        return None
    hosts = ["127.0.0.1:*", "localhost:*", "[::1]:*"]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=hosts,
        allowed_origins=[f"http://{host}" for host in hosts],
    )


class _RequireApiKey:
    """The Firecrawl routes' API-key check in front of the MCP endpoint (pure ASGI, so the
    event streams of MCP pass through untouched). A refusal is raised as the ``RequestError``
    it is, for the app's own error handler to answer: the same 401, in the same shape, as the
    Firecrawl endpoints give."""

    def __init__(self, app: ASGIApp, state: ServerState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            authorization = Request(scope).headers.get("authorization", "")
            note_key(key_of_request(self.state.settings.keys(), authorization))
        await self.app(scope, receive, send)
