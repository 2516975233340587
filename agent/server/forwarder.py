"""Any replica answers for any session: requests for another replica's session are forwarded.

With a shared session store (``AGENT_REDIS_URL``), a load balancer may send a session's request
to any replica. This middleware looks at requests that name a session (interact, stop, live
view, DevTools) and, when another replica owns it:

* forwards the request to the owner (HTTP as is, body and status and headers; WebSockets relayed
  both ways) and returns its answer, marked ``x-agent-forwarded`` so it is never sent on again;
* when the owner is gone (its heartbeat has lapsed, or it refuses connections) and the session's
  browser is a context on a remote CDP endpoint, takes the session over and serves it here;
* when the owner is gone with the session's browser (a local Chromium, a Playwright server's
  context), answers 410 ``SESSION_LOST``;
* when the session has ended, answers 404 saying why, if the store remembers.

A request that was forwarded here is never forwarded again, but is still checked: its sender may
have taken this replica for a predecessor at the same URL, whose sessions it takes over or
reports lost as above. Everything else (new scrapes, sessions of this replica, unknown ids) goes
to the routes as usual.

Where a session lives and taking it over are the service's (``agent.service.replicas``); this is
only the HTTP half: carrying the request there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re

import httpx
import websockets
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from agent.errors import AgentError, RequestError, SessionLostError
from agent.observability import current_request, current_telemetry
from agent.server.errors import error_response
from agent.server.request_telemetry import outgoing_headers
from agent.service.state import ServerState
from agent.service.store import replica_url

__all__ = ["FORWARDED_HEADER", "ReplicaForwarder"]

log = logging.getLogger(__name__)

FORWARDED_HEADER = "x-agent-forwarded"
_SESSION_PATH = re.compile(r"^/v2/(?:scrape/([^/]+)/interact|live/([^/]+)(?:/ws)?|cdp/([^/]+))$")
# Not passed on. The Host header is: the owner then builds cdpUrl and live-view links on the
# address the client used (a load balancer's), not on its own.
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
     "content-length", "proxy-connection"}
)  # fmt: skip


class ReplicaForwarder:
    """ASGI middleware: serve a session where it lives (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            # Keep-alive connections between replicas: forwarding should cost a millisecond.
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(None, connect=5.0),
                limits=httpx.Limits(max_keepalive_connections=64, max_connections=None),
            )
        return self._client

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        match = _SESSION_PATH.match(scope.get("path", ""))
        state: ServerState | None = getattr(scope["app"].state, "server", None)
        if match is None or state is None or not state.registry.store.shared:
            await self.app(scope, receive, send)
            return
        session_id = next(group for group in match.groups() if group)
        registry, replicas = state.registry, state.replicas
        if registry.has(session_id):  # the common case, at no cost: served here
            await self.app(scope, receive, send)
            return
        forwarded = _header(scope, FORWARDED_HEADER) is not None
        if scope["type"] == "http":
            # Read the body once, so the request can go to the owner and, if the owner turns out
            # to be gone, to our own routes after all.
            receive = await _buffered(receive)
        try:
            location = await replicas.locate(session_id)
            if location.kind == "elsewhere" and not forwarded:
                if await self._forward(scope, receive, send, location.owner):
                    return
                # Its owner refused the connection: it is gone, whatever its heartbeat says.
                location = await replicas.locate(session_id, refused_by=location.owner)
                if location.kind == "elsewhere":
                    raise RequestError(
                        "SERVICE_UNAVAILABLE",
                        f"The replica serving session {session_id} "
                        f"({replica_url(location.owner)}) does not answer; try again shortly.",
                        retry_after_s=2,
                    )
            if location.kind == "gone":
                if location.reason:
                    raise SessionLostError(f"The session was lost: {location.reason}.")
                await replicas.take_over(session_id, location.owner)
            if location.kind == "unknown" and location.reason:
                raise registry.not_found(session_id, location.reason)
        except AgentError as exc:
            await _refuse(scope, receive, send, exc)
            return
        await self.app(scope, receive, send)

    async def _forward(self, scope: Scope, receive: Receive, send: Send, owner: str) -> bool:
        """Send the request to the replica ``owner`` (a ``replica_id``); False when it refused
        the connection."""
        owner = replica_url(owner)
        if scope["type"] == "websocket":
            return await self._forward_websocket(scope, receive, send, owner)
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return True
            body.extend(message.get("body", b""))
            if not message.get("more_body"):
                break
        # The request's id and the current span go along, so one call is followed across both.
        carried = outgoing_headers(current_telemetry(), current_request())
        headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in scope["headers"]
            if name.decode("latin-1").lower() not in _HOP_BY_HOP | carried.keys()
        ]
        headers += [(FORWARDED_HEADER, "1"), *carried.items()]
        url = owner + _path_and_query(scope)
        try:
            response = await self._http().request(
                scope["method"], url, content=bytes(body), headers=headers
            )
        except httpx.ConnectError:
            return False
        reply_headers = [
            (name.encode("latin-1"), value.encode("latin-1"))
            for name, value in response.headers.multi_items()
            if name.lower() not in _HOP_BY_HOP and name.lower() != "content-encoding"
        ]
        reply_headers.append((b"content-length", str(len(response.content)).encode()))
        start = {"type": "http.response.start", "status": response.status_code}
        await send({**start, "headers": reply_headers})
        await send({"type": "http.response.body", "body": response.content})
        return True

    async def _forward_websocket(
        self, scope: Scope, receive: Receive, send: Send, owner: str
    ) -> bool:
        target = owner.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        target += _path_and_query(scope)
        try:
            upstream = await websockets.connect(
                target,
                additional_headers={
                    FORWARDED_HEADER: "1",
                    **outgoing_headers(current_telemetry(), current_request()),
                },
                max_size=None,
                ping_interval=None,
                compression=None,
            )
        except (OSError, websockets.InvalidHandshake) as exc:
            if isinstance(exc, ConnectionRefusedError):
                return False
            client = WebSocket(scope, receive, send)
            await client.close(code=4404, reason="the session's replica refused")
            return True
        client = WebSocket(scope, receive, send)
        await client.accept()

        async def downstream() -> None:
            async for message in upstream:
                if isinstance(message, str):
                    await client.send_text(message)
                else:
                    await client.send_bytes(message)

        async def upstream_from_client() -> None:
            while True:
                message = await client.receive()
                if message["type"] == "websocket.disconnect":
                    return
                if message.get("text") is not None:
                    await upstream.send(message["text"])
                elif message.get("bytes") is not None:
                    await upstream.send(message["bytes"])

        tasks = [asyncio.ensure_future(downstream()), asyncio.ensure_future(upstream_from_client())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await upstream.close()
            with contextlib.suppress(Exception, WebSocketDisconnect):
                await client.close()
        return True


async def _buffered(receive: Receive) -> Receive:
    """A ``receive`` that replays the whole request body (read now), as many times as asked."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        body.extend(message.get("body", b""))
        if not message.get("more_body"):
            break
    data = bytes(body)

    async def replay() -> Message:
        return {"type": "http.request", "body": data, "more_body": False}

    return replay


def _path_and_query(scope: Scope) -> str:
    query = scope.get("query_string") or b""
    return str(scope["path"]) + ("?" + query.decode("latin-1") if query else "")


def _header(scope: Scope, name: str) -> str | None:
    wanted = name.encode("latin-1")
    for key, value in scope.get("headers") or []:
        if key.lower() == wanted:
            return str(value.decode("latin-1"))
    return None


async def _refuse(scope: Scope, receive: Receive, send: Send, exc: AgentError) -> None:
    if scope["type"] == "websocket":
        # The codes the live view and DevTools routes close with themselves: 4404 no such
        # session (any more), 4410 one that was lost or cannot be reached now.
        missing = isinstance(exc, RequestError) and exc.code == "SESSION_NOT_FOUND"
        await WebSocket(scope, receive, send).close(
            code=4404 if missing else 4410, reason=str(exc)[:120]
        )
        return
    if isinstance(exc, RequestError):
        response = error_response(
            exc.code, exc.message, details=exc.details, retry_after_s=exc.retry_after_s
        )
    else:
        response = error_response(
            "SESSION_LOST", f"{exc} Scrape the page again to get a new scrapeId."
        )
    await response(scope, receive, send)
