"""``cdpUrl``: a session's DevTools as a WebSocket on the API's own host and port.

``wss://HOST/v2/cdp/{scrapeId}?token=...`` is proxied to that session's browser alone, through
the session's DevTools router (``agent.browser.cdp_router``): the client gets a DevTools session
of its own, sees the session's pages and can drive them, but cannot close the browser. The token
is random and per session, like the live-view tokens, so the URL can be handed to Playwright's
``connect_over_cdp`` or Puppeteer's ``connect`` without the API key; it dies with the session
(and a connection still open then is closed). ``AGENT_PUBLIC_URL`` sets the host clients use.
"""

from __future__ import annotations

import contextlib
import secrets

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from agent.server.connection import server_state, session_of_socket
from agent.service.registry import ServerSession

__all__ = ["cdp_url", "router"]

router = APIRouter()


def cdp_url(base_url: str, session: ServerSession) -> str:
    """The ``ws(s)://`` DevTools URL of ``session`` for clients of the API at ``base_url``."""
    scheme, _, rest = base_url.partition("://")
    ws_scheme = "wss" if scheme == "https" else "ws"
    return f"{ws_scheme}://{rest}/v2/cdp/{session.id}?token={session.cdp_token}"


class _StarletteClient:
    """A FastAPI WebSocket as a router client."""

    def __init__(self, websocket: WebSocket) -> None:
        self._websocket = websocket

    async def send(self, message: str) -> None:
        await self._websocket.send_text(message)

    async def receive(self) -> str:
        try:
            return await self._websocket.receive_text()
        except WebSocketDisconnect as exc:
            raise ConnectionError("the client disconnected") from exc


@router.websocket("/v2/cdp/{scrape_id}")
async def cdp_socket(websocket: WebSocket, scrape_id: str, token: str = "") -> None:
    session = await session_of_socket(websocket, scrape_id)
    if session is None:
        return
    if not secrets.compare_digest(token.encode(), session.cdp_token.encode()):
        await websocket.close(code=4403, reason="bad token")
        return
    await websocket.accept()
    # An open DevTools connection is activity.
    async with server_state(websocket).registry.use(scrape_id):
        await session.browser_session.serve_cdp(_StarletteClient(websocket))
    with contextlib.suppress(Exception):
        await websocket.close()
