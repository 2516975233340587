"""The live view: a page showing a session's browser as it runs, optionally taking input.

The page (``GET /v2/live/{scrapeId}?token=...``) opens a WebSocket back to this server, which
attaches a CDP session to the browser page, starts ``Page.startScreencast`` and forwards each
frame. With the interactive token, mouse, wheel and key events from the viewer are replayed with
``Input.dispatchMouseEvent`` / ``Input.dispatchKeyEvent``. Tokens are per session and random, so a
live-view link can be embedded in an iframe without handing out the API key; the view-only token
cannot send input.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import logging
import secrets
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse
from playwright.async_api import Error as PlaywrightError

from agent.errors import RequestError, SessionLostError
from agent.server.connection import server_state, session_of_socket
from agent.service.registry import ServerSession

if TYPE_CHECKING:
    from playwright.async_api import CDPSession, Page

__all__ = ["live_view_urls", "router"]

log = logging.getLogger(__name__)

router = APIRouter()

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Live view</title>
<style>
  html, body {{ margin: 0; height: 100%; background: #1e1e1e; overflow: hidden; }}
  #live {{ position: relative; width: 100%; height: 100%; }}
  #screen {{ width: 100%; height: 100%; object-fit: contain; display: block; outline: none;
             user-select: none; -webkit-user-drag: none; }}
  #live.interactive #screen {{ cursor: default; }}
  #status {{ position: absolute; left: 8px; bottom: 8px; padding: 4px 8px; border-radius: 4px;
             background: rgba(0, 0, 0, .7); color: #eee; font: 13px system-ui, sans-serif; }}
</style></head>
<body><div id="live" data-socket-path="{socket_path}" data-interactive="{interactive}">
<img id="screen" alt="The session's browser" draggable="false"><div id="status"></div></div>
<script>{script}</script></body></html>
"""

_MOUSE_EVENTS = frozenset({"mousePressed", "mouseReleased", "mouseMoved"})
_KEY_EVENTS = frozenset({"keyDown", "keyUp", "rawKeyDown", "char"})
_BUTTONS = frozenset({"none", "left", "middle", "right"})


def live_view_urls(base_url: str, session: ServerSession) -> tuple[str, str]:
    """The view-only and the interactive live-view URLs of ``session``."""
    page = f"{base_url}/v2/live/{session.id}"
    return f"{page}?token={session.view_token}", f"{page}?token={session.control_token}"


def _access(session: ServerSession, token: str) -> bool | None:
    """True for the interactive token, False for the view token, None for neither."""
    if secrets.compare_digest(token.encode(), session.control_token.encode()):
        return True
    if secrets.compare_digest(token.encode(), session.view_token.encode()):
        return False
    return None


@router.get("/v2/live/{scrape_id}", include_in_schema=False)
async def live_view_page(request: Request, scrape_id: str, token: str = "") -> HTMLResponse:
    session = server_state(request).registry.get(scrape_id)
    interactive = _access(session, token)
    if interactive is None:
        raise RequestError(
            "FORBIDDEN",
            "This live-view link is not valid for this session: use the liveViewUrl or "
            "interactiveLiveViewUrl an interact call returned.",
        )
    script = files("agent.server").joinpath("live_view.js").read_text(encoding="utf-8")
    socket_path = f"/v2/live/{scrape_id}/ws?token={token}"
    body = _PAGE.format(
        socket_path=html.escape(socket_path),
        interactive="true" if interactive else "false",
        script=script,
    )
    return HTMLResponse(
        body,
        headers={
            # Meant to be embedded: allow any framing page; keep the token out of Referer.
            "Content-Security-Policy": "frame-ancestors *",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
        },
    )


@router.websocket("/v2/live/{scrape_id}/ws")
async def live_view_socket(websocket: WebSocket, scrape_id: str, token: str = "") -> None:
    session = await session_of_socket(websocket, scrape_id)
    if session is None:
        return
    interactive = _access(session, token)
    if interactive is None:
        await websocket.close(code=4403, reason="bad token")
        return
    await websocket.accept()
    bridge = _ScreencastBridge(session, websocket, interactive=interactive)
    try:
        await bridge.run()
    finally:
        await bridge.detach()


class _ScreencastBridge:
    """Forwards screencast frames of the session's current page to one viewer, and its input
    back to the page."""

    def __init__(self, session: ServerSession, websocket: WebSocket, *, interactive: bool) -> None:
        self.session = session
        self.websocket = websocket
        self.interactive = interactive
        self.frames: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=2)
        self.cdp: CDPSession | None = None
        self.page: Page | None = None

    async def run(self) -> None:
        await self._attach()
        tasks = [
            asyncio.create_task(self._send_frames()),
            asyncio.create_task(self._receive_input()),
            asyncio.create_task(self._follow_page()),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    exc = task.exception()
                    if not isinstance(exc, WebSocketDisconnect | PlaywrightError):
                        log.error("live view of %s failed: %r", self.session.id, exc)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if self.session.closed:
            with contextlib.suppress(Exception):
                await self.websocket.send_json({"type": "ended", "reason": "it was stopped"})
                await self.websocket.close()

    async def _attach(self) -> None:
        page = self.session.browser_session.page
        cdp = await page.context.new_cdp_session(page)
        cdp.on("Page.screencastFrame", self._on_frame)
        size = page.viewport_size or {"width": 1280, "height": 800}
        await cdp.send(
            "Page.startScreencast",
            {
                "format": "jpeg",
                "quality": 70,
                "maxWidth": size["width"],
                "maxHeight": size["height"],
                "everyNthFrame": 1,
            },
        )
        self.cdp, self.page = cdp, page

    async def detach(self) -> None:
        cdp, self.cdp = self.cdp, None
        if cdp is not None:
            with contextlib.suppress(Exception):
                await cdp.send("Page.stopScreencast")
            with contextlib.suppress(Exception):
                await cdp.detach()

    def _on_frame(self, frame: dict[str, Any]) -> None:
        if self.frames.full():  # a slow viewer gets the newest frame, not a backlog
            with contextlib.suppress(asyncio.QueueEmpty):
                self.frames.get_nowait()
        self.frames.put_nowait(frame)

    async def _send_frames(self) -> None:
        while True:
            frame = await self.frames.get()
            meta = frame.get("metadata", {})
            await self.websocket.send_text(
                json.dumps(
                    {
                        "type": "frame",
                        "data": frame["data"],
                        "width": meta.get("deviceWidth"),
                        "height": meta.get("deviceHeight"),
                    }
                )
            )
            cdp = self.cdp
            if cdp is not None:  # the ack asks Chromium for the next frame
                with contextlib.suppress(PlaywrightError):
                    await cdp.send("Page.screencastFrameAck", {"sessionId": frame["sessionId"]})

    async def _follow_page(self) -> None:
        """Re-attach when the session moves to another tab; end when the session ends."""
        while not self.session.closed:
            await asyncio.sleep(0.5)
            try:
                page = self.session.browser_session.page
            except SessionLostError:
                return
            if page is not self.page:
                await self.detach()
                await self._attach()

    async def _receive_input(self) -> None:
        while True:
            message = await self.websocket.receive_json()
            if not self.interactive or not isinstance(message, dict) or self.cdp is None:
                continue
            command = _input_command(message)
            if command is None:
                continue
            self.session.touch()
            try:
                await self.cdp.send(*command)
            except PlaywrightError as exc:
                log.debug("live view input %s failed: %s", command[0], exc)


def _number(value: object, low: float, high: float) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if low <= value <= high else None


def _input_command(message: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The CDP command for one viewer event, or None when the event is malformed."""
    kind = message.get("type")
    modifiers = int(_number(message.get("modifiers", 0), 0, 15) or 0)
    if kind in ("mouse", "wheel"):
        x, y = _number(message.get("x"), 0, 20_000), _number(message.get("y"), 0, 20_000)
        if x is None or y is None:
            return None
        if kind == "wheel":
            params: dict[str, Any] = {
                "type": "mouseWheel",
                "x": x,
                "y": y,
                "deltaX": _number(message.get("deltaX"), -10_000, 10_000) or 0.0,
                "deltaY": _number(message.get("deltaY"), -10_000, 10_000) or 0.0,
                "modifiers": modifiers,
            }
            return "Input.dispatchMouseEvent", params
        event, button = message.get("event"), message.get("button", "none")
        if event not in _MOUSE_EVENTS or button not in _BUTTONS:
            return None
        params = {"type": event, "x": x, "y": y, "button": button, "modifiers": modifiers}
        params["clickCount"] = int(_number(message.get("clickCount", 0), 0, 3) or 0)
        return "Input.dispatchMouseEvent", params
    if kind == "key":
        event = message.get("event")
        key, code, text = message.get("key", ""), message.get("code", ""), message.get("text", "")
        if event not in _KEY_EVENTS or not all(
            isinstance(v, str) and len(v) <= 32 for v in (key, code, text)
        ):
            return None
        params = {"type": event, "key": key, "code": code, "modifiers": modifiers}
        key_code = int(_number(message.get("keyCode", 0), 0, 255) or 0)
        if key_code:
            params["windowsVirtualKeyCode"] = key_code
        if text:
            params["text"] = params["unmodifiedText"] = text
        return "Input.dispatchKeyEvent", params
    return None
