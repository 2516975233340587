"""Attack: borrowing the router's own page session.

The session's DevTools router holds a page session of its own for the snapshot's clickable scan
(``agent.browser.main_world``), and its own calls are unconfined. A client of the session's
DevTools socket that names that session's id in a command must be answered "not found" and the
command must never reach the page: the id is the router's, not the client's."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import websockets

from agent.browser.session import BrowserSession


async def _ask(client: Any, message: dict[str, Any]) -> dict[str, Any]:
    await client.send(json.dumps(message))
    async with asyncio.timeout(10):
        while True:
            answer = json.loads(await client.recv())
            if answer.get("id") == message["id"]:
                return dict(answer)


async def test_a_client_cannot_send_on_the_routers_own_page_session(
    session: BrowserSession, site: str
) -> None:
    await session.goto(site)
    await session.snapshot()  # the scan went through the router's page session
    router_session = await session._main_world._sessions[session.page]  # the id an attacker wants
    assert router_session
    socket = str(session.handle.client_socket)
    async with websockets.unix_connect(socket, "ws://localhost/devtools/browser") as client:
        answer = await _ask(
            client,
            {
                "id": 7,
                "sessionId": router_session,
                "method": "Runtime.evaluate",
                "params": {"expression": "window.borrowed = 'yes'", "returnByValue": True},
            },
        )
    assert "error" in answer and "not found" in answer["error"]["message"], answer
    assert await session.page.evaluate("typeof window.borrowed") == "undefined"
    # The router's own session is still the one the snapshot's scan uses.
    await session.snapshot()
    assert await session._main_world._sessions[session.page] == router_session
