"""Sessions on browsers elsewhere: any CDP endpoint, or a Playwright browser server.

Each session gets a browser context of its own on the remote browser, and the session's DevTools
router (shared with its code and its ``cdpUrl``) is confined to that context, so sessions sharing
one remote browser cannot reach each other's pages, cookies or storage (``cdp_confine.py``).

* **cdp** (a Chrome with ``--remote-debugging-port``, Browserless, Selenium Grid 4, a Kubernetes
  Chrome pool): one WebSocket per session to the browser's DevTools endpoint; we create the
  context (``disposeOnDetach`` off, so it outlives a replica that dies: another replica can take
  the session over with ``open_cdp(..., context_id=...)``), then attach Playwright through the
  confined router.
* **playwright** (``launchServer`` / ``run-server``): our Playwright connects with ``connect`` and
  creates the context; since that protocol is not CDP, the router's upstream speaks CDP through
  Playwright's own CDP sessions (``PlaywrightCdpUpstream``). A Playwright server closes a
  client's contexts when the client disconnects, so these sessions cannot be taken over.

Closing a remote session disposes of its context only, never of a browser others share.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import websockets
from playwright.async_api import Browser, CDPSession

from agent.browser.cdp_router import CdpRouter
from agent.browser.driver import borrow_playwright, return_playwright
from agent.browser.handle import BrowserHandle, attach_playwright, serve_router_sockets
from agent.errors import BrowserLaunchError, first_line

__all__ = [
    "PlaywrightCdpUpstream",
    "RemoteBrowser",
    "WebSocketUpstream",
    "open_cdp",
    "open_playwright",
]

log = logging.getLogger(__name__)


class WebSocketUpstream:
    """CDP over a WebSocket to a browser's DevTools endpoint."""

    def __init__(self, connection: websockets.ClientConnection) -> None:
        self._connection = connection

    @classmethod
    async def connect(cls, url: str, *, timeout_s: float) -> WebSocketUpstream:
        connection = await websockets.connect(
            url, max_size=None, ping_interval=None, compression=None, open_timeout=timeout_s
        )
        return cls(connection)

    async def send(self, message: str) -> None:
        try:
            await self._connection.send(message)
        except websockets.ConnectionClosed as exc:
            raise ConnectionError("the remote browser closed the connection") from exc

    async def receive(self) -> str:
        try:
            message = await self._connection.recv()
        except websockets.ConnectionClosed as exc:
            raise ConnectionError("the remote browser closed the connection") from exc
        return message if isinstance(message, str) else message.decode()

    async def close(self) -> None:
        await self._connection.close()


async def devtools_url(endpoint: str, *, timeout_s: float) -> str:
    """The browser-level DevTools WebSocket URL of a CDP endpoint given as http(s) or ws(s)."""
    parts = urlsplit(endpoint)
    if parts.scheme in ("ws", "wss"):
        return endpoint
    base = endpoint.rstrip("/")
    async with httpx.AsyncClient(timeout=timeout_s) as client:
        response = await client.get(f"{base}/json/version")
        response.raise_for_status()
        found = str(response.json()["webSocketDebuggerUrl"])
    # The browser names itself as it sees itself (often 127.0.0.1); keep the host we reached.
    ws = urlsplit(found)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, ws.path, ws.query, ""))


class RemoteBrowser(BrowserHandle):
    """A session's browser context on a remote browser."""

    def __init__(
        self,
        *,
        kind: str,
        endpoint: str,
        context_id: str,
        on_close: Callable[[], Any] | None = None,
        **parts: Any,
    ) -> None:
        super().__init__(**parts)
        self.kind = kind
        self.endpoint = endpoint
        self.context_id = context_id
        self._on_close = on_close
        self._closed = False

    @property
    def alive(self) -> bool:
        return not self._closed and super().alive

    async def close(self) -> None:
        """Dispose of this session's context (never of the browser) and disconnect."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            if self._on_close is not None:
                await self._on_close()
            else:
                await asyncio.wait_for(
                    self.router.call(
                        "Target.disposeBrowserContext", {"browserContextId": self.context_id}
                    ),
                    5,
                )
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.browser.close(), 5)
        await self._release()

    async def detach(self) -> None:
        """Disconnect and leave the context on the remote browser (another replica takes it)."""
        self._closed = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.browser.close(), 5)
        await self._release()


async def open_cdp(
    endpoint: str,
    *,
    context_id: str | None = None,
    viewport: tuple[int, int] = (1280, 800),
    timeout_s: float = 20.0,
) -> RemoteBrowser:
    """A new browser context (or the existing ``context_id``) on the CDP endpoint, with
    Playwright attached through a router confined to it.

    Raises:
        BrowserLaunchError: the endpoint cannot be reached or refused.
    """
    try:
        url = await devtools_url(endpoint, timeout_s=timeout_s)
        upstream = await WebSocketUpstream.connect(url, timeout_s=timeout_s)
    except (OSError, httpx.HTTPError, websockets.InvalidHandshake, KeyError, ValueError) as exc:
        raise BrowserLaunchError(f"The CDP endpoint {endpoint} cannot be reached: {exc}") from exc
    router = CdpRouter(upstream)
    router.start()
    try:
        if context_id is None:
            created = await router.call("Target.createBrowserContext", {"disposeOnDetach": False})
            context_id = str(created["browserContextId"])
            await router.call(
                "Target.createTarget", {"url": "about:blank", "browserContextId": context_id}
            )
        router.confine(context_id)
        browser, sockets, socket_dir = await attach_playwright(router, timeout_s=timeout_s)
    except BaseException as exc:
        await router.close()
        if isinstance(exc, (asyncio.CancelledError, KeyboardInterrupt)):
            raise
        raise BrowserLaunchError(f"The CDP endpoint {endpoint} refused a session: {exc}") from exc
    context = browser.contexts[0]
    page = context.pages[-1] if context.pages else await context.new_page()
    handle = RemoteBrowser(
        kind="cdp",
        endpoint=endpoint,
        context_id=context_id,
        router=router,
        sockets=sockets,
        socket_dir=socket_dir,
        browser=browser,
        context=context,
        page=page,
    )
    with contextlib.suppress(Exception):
        await page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
    return handle


async def open_playwright(
    endpoint: str, *, viewport: tuple[int, int] = (1280, 800), timeout_s: float = 20.0
) -> RemoteBrowser:
    """A new context on a Playwright browser server, reached with ``connect``.

    Raises:
        BrowserLaunchError: the server cannot be reached or refused.
    """
    playwright = await borrow_playwright()
    try:
        remote = await playwright.chromium.connect(endpoint, timeout=timeout_s * 1000)
    except Exception as exc:
        await return_playwright()
        raise BrowserLaunchError(
            f"The Playwright browser server {endpoint} cannot be reached: {exc}"
        ) from exc
    try:
        context = await remote.new_context(viewport={"width": viewport[0], "height": viewport[1]})
        page = await context.new_page()
        probe = await context.new_cdp_session(page)
        info = await probe.send("Target.getTargetInfo")
        await probe.detach()
        context_id = str(info["targetInfo"]["browserContextId"])
        router = CdpRouter(PlaywrightCdpUpstream(remote), context_id=context_id)
        router.start()
        socket_dir, sockets = await serve_router_sockets(router)
    except BaseException as exc:
        with contextlib.suppress(Exception):
            await remote.close()
        await return_playwright()
        if isinstance(exc, (asyncio.CancelledError, KeyboardInterrupt)):
            raise
        raise BrowserLaunchError(
            f"The Playwright browser server {endpoint} refused a session: {exc}"
        ) from exc

    async def close_context() -> None:
        await asyncio.wait_for(context.close(), 5)

    return RemoteBrowser(
        kind="playwright",
        endpoint=endpoint,
        context_id=context_id,
        on_close=close_context,
        router=router,
        sockets=sockets,
        socket_dir=socket_dir,
        browser=remote,
        context=context,
        page=page,
    )


# Browser-level events a client of the router may need; Playwright's CDP sessions deliver only
# the events one subscribes to by name.
_BROWSER_EVENTS = (
    "Target.attachedToTarget", "Target.detachedFromTarget", "Target.receivedMessageFromTarget",
    "Target.targetCreated", "Target.targetDestroyed", "Target.targetCrashed",
    "Target.targetInfoChanged", "Browser.downloadWillBegin", "Browser.downloadProgress",
)  # fmt: skip
_AUTO_ATTACHED = frozenset({"page", "service_worker", "shared_worker"})
_DISCOVERY_EVENTS = ("Target.targetCreated", "Target.targetDestroyed", "Target.targetInfoChanged")
_FLATTEN = frozenset({"Target.setAutoAttach", "Target.attachToTarget"})


class PlaywrightCdpUpstream:
    """Flat-mode CDP, spoken through Playwright's CDP sessions of a ``connect``ed browser.

    The router expects one connection with ``sessionId``-addressed (flat) sessions; a Playwright
    browser server offers CDP only as ``CDPSession`` objects. Each router client's browser
    session (``Target.attachToBrowserTarget``) becomes a ``CDPSession`` of its own; sessions
    below it are attached in nested (non-flat) mode, and their messages wrapped in
    ``Target.sendMessageToTarget`` (unwrapped from ``Target.receivedMessageFromTarget``), hop by
    hop, so the router sees flat sessions throughout.

    Chromium allows browser-level auto-attach in flat mode only, so it is emulated: existing
    pages and workers are attached one by one, and new ones as target discovery announces them
    (they start running before the client is attached, unlike with real auto-attach).
    """

    def __init__(self, browser: Browser) -> None:
        self._browser = browser
        self._incoming: asyncio.Queue[str | None] = asyncio.Queue()
        self._sessions: dict[str, CDPSession] = {}  # our browser sessions, by made-up id
        self._parent: dict[str, str] = {}  # nested session -> the session it hangs from
        self._names = itertools.count(1)
        self._wrappers: set[int] = set()
        self._wrapper_ids = itertools.count(1 << 40)
        self._root: CDPSession | None = None
        self._auto_attaching: set[str] = set()
        self._attached_targets: dict[tuple[str, str], asyncio.Future[Any]] = {}
        self._closed = False
        browser.on("disconnected", lambda _: self._incoming.put_nowait(None))

    async def send(self, message: str) -> None:
        if self._closed:
            raise ConnectionError("the Playwright connection is closed")
        data = json.loads(message)
        task = asyncio.get_running_loop().create_task(self._handle(data))
        task.add_done_callback(_log_failure)

    async def receive(self) -> str:
        message = await self._incoming.get()
        if message is None:
            raise ConnectionError("the Playwright browser server went away")
        return message

    async def close(self) -> None:
        self._closed = True
        self._incoming.put_nowait(None)
        for session in list(self._sessions.values()):
            with contextlib.suppress(Exception):
                await session.detach()

    def _emit(self, message: dict[str, Any]) -> None:
        self._incoming.put_nowait(json.dumps(message))

    async def _handle(self, message: dict[str, Any]) -> None:
        call_id = message.get("id")
        method = str(message.get("method", ""))
        params = dict(message.get("params") or {})
        session = message.get("sessionId")
        if method in _FLATTEN:
            params["flatten"] = False
        answer: dict[str, Any] = {"id": call_id}
        try:
            if method == "Target.attachToBrowserTarget":
                # From any session: a browser session of its own, which is flat-only, so it is
                # made as a CDPSession of ours rather than attached under the asking session.
                answer["result"] = await self._new_browser_session()
                if session is not None:
                    answer["sessionId"] = session
            elif method == "Target.detachFromTarget" and params.get("sessionId") in self._sessions:
                await self._sessions.pop(str(params["sessionId"])).detach()
                answer["result"] = {}
                if session is not None:
                    answer["sessionId"] = session
            elif session is None:
                answer["result"] = await self._root_call(method, params)
            elif session in self._sessions and method == "Target.setAutoAttach":
                answer["result"] = await self._emulate_auto_attach(session, params)
                answer["sessionId"] = session
            elif session in self._sessions:
                answer["result"] = await self._sessions[session].send(method, params)
                answer["sessionId"] = session
                if method == "Target.createTarget" and session in self._auto_attaching:
                    # Real auto-attach has attached the new tab before this answer: so here.
                    target = {"targetId": answer["result"].get("targetId"), "type": "page"}
                    await self._attach_for(session, target)
            elif session in self._parent:
                inner = {"id": call_id, "method": method, "params": params}
                await self._send_nested(session, inner)
                return  # the answer comes back wrapped, as an event
            else:
                answer["error"] = {"code": -32001, "message": "Session with given id not found."}
        except Exception as exc:
            answer.pop("result", None)
            answer["error"] = {"code": -32000, "message": first_line(exc)}
        self._emit(answer)

    async def _new_browser_session(self) -> dict[str, Any]:
        cdp = await self._browser.new_browser_cdp_session()
        name = f"pw-browser-{next(self._names)}"
        self._sessions[name] = cdp
        for event in _BROWSER_EVENTS:
            cdp.on(event, self._listener(name, event))
        return {"sessionId": name}

    async def _root_call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if self._root is None:
            self._root = await self._browser.new_browser_cdp_session()
            for event in (
                "Target.targetCreated",
                "Target.targetDestroyed",
                "Target.targetInfoChanged",
            ):
                self._root.on(event, self._listener(None, event))
        return dict(await self._root.send(method, params))

    async def _emulate_auto_attach(self, session: str, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("autoAttach"):
            self._auto_attaching.discard(session)
            return {}
        self._auto_attaching.add(session)
        cdp = self._sessions[session]
        await cdp.send("Target.setDiscoverTargets", {"discover": True})
        found = await cdp.send("Target.getTargets")
        for info in found.get("targetInfos", []):
            await self._attach_for(session, info)
        return {}

    async def _attach_for(self, session: str, info: dict[str, Any]) -> None:
        """Attach ``session`` to a target once; a second caller waits for the first attach."""
        if info.get("type") not in _AUTO_ATTACHED:
            return
        key = (session, str(info.get("targetId")))
        attaching = self._attached_targets.get(key)
        if attaching is None:
            attaching = asyncio.ensure_future(
                self._sessions[session].send(
                    "Target.attachToTarget", {"targetId": info["targetId"], "flatten": False}
                )
            )
            self._attached_targets[key] = attaching
        with contextlib.suppress(Exception):
            await asyncio.shield(attaching)

    def _listener(self, session: str | None, event: str) -> Callable[[dict[str, Any]], None]:
        def deliver(params: dict[str, Any]) -> None:
            if (
                event == "Target.targetCreated"
                and session in self._auto_attaching
                and isinstance(params.get("targetInfo"), dict)
            ):
                task = asyncio.get_running_loop().create_task(
                    self._attach_for(session, params["targetInfo"])
                )
                task.add_done_callback(_log_failure)
            if event == "Target.receivedMessageFromTarget":
                self._unwrap(str(params["sessionId"]), str(params["message"]))
                return
            if event == "Target.attachedToTarget" and session is not None:
                self._parent[str(params["sessionId"])] = session
            message: dict[str, Any] = {"method": event, "params": params}
            if session is not None:
                message["sessionId"] = session
            self._emit(message)

        return deliver

    def _unwrap(self, session: str, text: str) -> None:
        inner = json.loads(text)
        if inner.get("method") == "Target.receivedMessageFromTarget":
            params = inner.get("params") or {}
            self._unwrap(str(params["sessionId"]), str(params["message"]))
            return
        if "id" in inner and inner["id"] in self._wrappers:
            self._wrappers.discard(inner["id"])  # the ack of a hop we wrapped
            return
        if inner.get("method") == "Target.attachedToTarget":
            self._parent[str(inner["params"]["sessionId"])] = session
        elif inner.get("method") == "Target.detachedFromTarget":
            self._parent.pop(str((inner.get("params") or {}).get("sessionId")), None)
        inner["sessionId"] = session
        self._emit(inner)

    async def _send_nested(self, session: str, inner: dict[str, Any]) -> None:
        """Send ``inner`` to nested ``session``: wrapped once per hop up to a browser session."""
        payload = inner
        hop = session
        while hop not in self._sessions:
            parent = self._parent[hop]
            if parent in self._sessions:
                await self._sessions[parent].send(
                    "Target.sendMessageToTarget", {"sessionId": hop, "message": json.dumps(payload)}
                )
                return
            wrapper_id = next(self._wrapper_ids)
            self._wrappers.add(wrapper_id)
            payload = {
                "id": wrapper_id,
                "method": "Target.sendMessageToTarget",
                "params": {"sessionId": hop, "message": json.dumps(payload)},
            }
            hop = parent
        raise ConnectionError(f"session {session} has no browser session above it")


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("relaying CDP through Playwright failed: %s", task.exception())
