"""MCP over Streamable HTTP at ``/mcp`` of the real app served on loopback (as ``agent serve``
builds it), driven by the official MCP client: the API key is enforced, browser tools work on
the connection's default browser and on scraped sessions, interact runs a prompt, and ending the
MCP session closes its browsers."""

from __future__ import annotations

import base64
import struct
from collections.abc import Sequence
from typing import Any

import httpx
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, ImageContent, TextContent

from agent.browser import grammar
from agent.messages import Message
from agent.models import tool_call
from tests.harness import (
    HeldMcpSession,
    RunningServer,
    assert_error,
    latest_observation,
    wait_until,
)
from tests.mcp.conftest import SANDBOX_MEMORY_MB, http_transport

_INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "curl", "version": "0"},
    },
}
_STREAMABLE = {"accept": "application/json, text/event-stream"}


def test_mcp_refuses_requests_without_a_valid_key(http_server: RunningServer) -> None:
    url = f"{http_server.url}/mcp"
    assert_error(httpx.post(url, json=_INITIALIZE, headers=_STREAMABLE), 401, "API key")
    wrong = {**_STREAMABLE, "authorization": "Bearer not-the-key"}
    response = httpx.post(url, json=_INITIALIZE, headers=wrong)
    assert_error(response, 401, "not valid")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_official_client_without_key_cannot_connect(http_server: RunningServer) -> None:
    for key in (None, "not-the-key"):
        with pytest.raises(BaseException) as failure:
            await HeldMcpSession(lambda key=key: http_transport(http_server.url, key=key)).start()
        # The SDK reports any HTTP error of the handshake this way; the 401 is checked above.
        leaves = _leaves(failure.value)
        assert [type(e) for e in leaves] == [MCPError], leaves
        assert "error response" in str(leaves[0])
    assert len(http_server.registry) == 0


def _leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]


async def test_browser_tools_and_sessions_over_http(http_server: RunningServer, site: str) -> None:
    held = await HeldMcpSession(lambda: http_transport(http_server.url)).start()
    try:
        assert held.session is not None
        names = {tool.name for tool in (await held.session.list_tools()).tools}
        assert {"browser_navigate", "browser_snapshot", "browser_click", "interact"} <= names
        await held.text("browser_navigate", url=f"{site}/index.html")
        shot = await held.text("browser_snapshot", mode="interactive")
        name = grammar.find_ref(shot, "textbox", "Name")
        greet = grammar.find_ref(shot, "button", "Greet")
        assert name and greet, shot
        await held.text("browser_type", target=name, text="Grace")
        assert "clicked" in await held.text("browser_click", target=greet)
        assert await held.text("browser_get_text", target="#out") == "Hello Grace, size Small"

        scraped = await held.text("scrape", url=f"{site}/index.html", formats=["links"])
        session_id = scraped.split('session_id="', 1)[1].split('"', 1)[0]
        assert len(http_server.registry) == 2  # the default browser and the scraped one
        # A prompt, through the real planner loop with a scripted model; the planner meets no
        # MCP client to ask, so the confirm() it opens is dismissed as Playwright does.
        http_server.turns.add(_click_ask, "The page now says Kept.")
        answer = await held.text(
            "interact", session_id=session_id, prompt="Press Ask and tell me what the page says."
        )
        assert answer == "The page now says Kept."
        # The prompt acted on the scraped session only.
        assert await held.text("browser_get_text", target="#out") == "Hello Grace, size Small"
        scraped_out = await held.text("browser_get_text", target="#out", session_id=session_id)
        assert scraped_out == "Kept"
    finally:
        await held.close()
    # The client's DELETE ended the MCP session, and with it both of its browsers.
    wait_until(lambda: len(http_server.registry) == 0, timeout_s=20)


async def test_stale_refs_are_error_results_and_screenshots_images_over_http(
    http_server: RunningServer, site: str
) -> None:
    held = await HeldMcpSession(lambda: http_transport(http_server.url)).start()
    try:
        await held.text("browser_navigate", url=f"{site}/index.html")
        vanish = grammar.find_ref(await held.text("browser_snapshot"), "button", "Vanish")
        assert vanish
        assert "clicked" in await held.text("browser_click", target=vanish)
        stale = await held.call("browser_click", target=vanish)  # its element removed itself
        assert stale.is_error is True, stale
        assert _text(stale).startswith(f"stale ref {vanish}") and "snapshot" in _text(stale)
        assert not any(isinstance(c, ImageContent) for c in stale.content)

        shot = await held.call("browser_take_screenshot")
        assert not shot.is_error, _text(shot)
        images = [c for c in shot.content if isinstance(c, ImageContent)]
        assert len(images) == 1 and images[0].mime_type == "image/png"
        png = base64.b64decode(images[0].data)
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk: the viewport's size
        assert (width, height) == tuple(
            http_server.evaluate(_default_id(http_server), "[innerWidth, innerHeight]")
        )
        assert "screenshot of the viewport" in _text(shot)
        jpeg = await held.call("browser_take_screenshot", type="jpeg", target="#out")
        (image,) = [c for c in jpeg.content if isinstance(c, ImageContent)]
        assert image.mime_type == "image/jpeg"
        assert base64.b64decode(image.data).startswith(b"\xff\xd8\xff")
    finally:
        await held.close()
    wait_until(lambda: len(http_server.registry) == 0, timeout_s=20)


def _default_id(http_server: RunningServer) -> str:
    """The one session open on the server: an MCP connection's default browser."""
    (session_id,) = list(http_server.registry._sessions)
    return str(session_id)


def _click_ask(messages: Sequence[Message]) -> Any:
    ref = grammar.find_ref(latest_observation(messages), "button", "Ask")
    assert ref, latest_observation(messages)
    return [tool_call("click", ref=ref)]


async def test_sessionless_clients_work_on_scraped_sessions(
    http_server: RunningServer, site: str
) -> None:
    """``mcp.Client``'s default mode speaks the sessionless 2026-07-28 protocol over HTTP: no
    connection outlives a request, so there is no default browser to keep, and it says so."""
    async with Client(http_transport(http_server.url)) as client:
        refused = await client.call_tool("browser_navigate", {"url": f"{site}/index.html"})
        assert refused.is_error and "call scrape first" in _text(refused)
        scraped = await client.call_tool("scrape", {"url": f"{site}/second.html"})
        session_id = _text(scraped).split('session_id="', 1)[1].split('"', 1)[0]
        read = await client.call_tool("browser_get_text", {"session_id": session_id})
        assert "Reached the second page." in _text(read)
        stopped = await client.call_tool("stop_interaction", {"session_id": session_id})
        assert not stopped.is_error
    assert len(http_server.registry) == 0


async def test_code_runs_with_the_servers_settings(http_server: RunningServer, site: str) -> None:
    async with Client(http_transport(http_server.url)) as client:
        scraped = await client.call_tool("scrape", {"url": f"{site}/second.html"})
        session_id = _text(scraped).split('session_id="', 1)[1].split('"', 1)[0]
        code = "import resource\nresource.getrlimit(resource.RLIMIT_DATA)[0] >> 20"
        ran = await client.call_tool(
            "interact", {"session_id": session_id, "code": code, "language": "python"}
        )
        assert not ran.is_error, _text(ran)
        assert str(SANDBOX_MEMORY_MB) in _text(ran)
        await client.call_tool("stop_interaction", {"session_id": session_id})


def _text(result: CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, TextContent))
