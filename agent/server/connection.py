"""From an HTTP request or WebSocket to what it works on: the app's service state, the session a
socket's path names, the URL clients reach this server at."""

from __future__ import annotations

from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket

from agent.errors import RequestError
from agent.service.registry import ServerSession
from agent.service.state import ServerState

__all__ = ["base_url", "server_state", "session_of_socket"]


def server_state(connection: HTTPConnection) -> ServerState:
    """The service state of the app the request came to (``app.state.server``)."""
    state = connection.app.state.server
    assert isinstance(state, ServerState)
    return state


def base_url(connection: HTTPConnection) -> str:
    """The URL clients reach this server at, without a trailing slash."""
    public_url = server_state(connection).settings.public_url
    if public_url:
        return public_url.rstrip("/")
    return str(connection.base_url).rstrip("/")


async def session_of_socket(websocket: WebSocket, scrape_id: str) -> ServerSession | None:
    """The live session a WebSocket's path names; None once the socket is closed with 4404
    (no such session), as the DevTools and live-view sockets answer."""
    try:
        return server_state(websocket).registry.get(scrape_id)
    except RequestError:
        await websocket.close(code=4404, reason="no such session")
        return None
