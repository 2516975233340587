"""The look at the page the MCP server takes while its client thinks (``agent.mcp.warmup``),
through the official client against ``agent mcp``: it changes no ref a client sees, and a
navigation the page starts after a click does not hold up the client's next snapshot."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from agent.browser import grammar
from tests.harness import HeldMcpSession, PageHandler, serve_hanging
from tests.mcp.conftest import stdio_transport

THINK_S = 0.5
"""A pause between calls, as a client's model takes: long enough for the look to be done."""

LEAVING = """<!doctype html><title>Leaving</title><h1>Leaving</h1>
<button onclick="setTimeout(() => { location.href = '/slow'; }, 300)">Go slowly</button>
<a href="/elsewhere">Elsewhere</a>"""


@pytest.fixture
async def two_servers() -> AsyncIterator[tuple[HeldMcpSession, HeldMcpSession]]:
    """``agent mcp`` with the warm-up on, and another with it off."""
    on = await HeldMcpSession(lambda: stdio_transport(uuid.uuid4().hex)).start()
    off = await HeldMcpSession(
        lambda: stdio_transport(uuid.uuid4().hex, {"AGENT_MCP_PREPARE_SNAPSHOTS": "false"})
    ).start()
    yield on, off
    await asyncio.gather(on.close(), off.close())


async def _session(held: HeldMcpSession, site: str) -> list[str]:
    """A client's calls with think time between them; the snapshots it was shown."""

    async def call(name: str, **arguments: object) -> str:
        text = await held.text(name, **arguments)
        await asyncio.sleep(THINK_S)
        return text

    await call("browser_navigate", url=f"{site}/index.html")
    shown = [await call("browser_snapshot")]
    greet = grammar.find_ref(shown[0], "button", "Greet")
    await call("browser_click", target=greet)
    shown.append(await call("browser_snapshot", mode="changes"))
    # Looks nobody reads: after this navigate, and after the back.
    await call("browser_navigate", url=f"{site}/second.html")
    await call("browser_navigate_back")
    await call("browser_navigate", url=f"{site}/second.html")
    shown.append(await call("browser_snapshot"))
    await call("browser_navigate", url=f"{site}/index.html")
    shown.append(await call("browser_snapshot"))
    return shown


async def test_refs_are_the_ones_shown_without_the_warm_up(
    two_servers: tuple[HeldMcpSession, HeldMcpSession], site: str
) -> None:
    on, off = two_servers
    with_warm_up, without = await asyncio.gather(_session(on, site), _session(off, site))
    assert with_warm_up == without
    # The last snapshot is of a fourth document: refs issued for it follow every earlier one.
    assert grammar.find_ref(without[-1], "button", "Greet") not in without[0]


class _SlowNavigation(PageHandler):
    """``/slow`` answers only once the test releases it; every other path is ``LEAVING``."""

    requested = threading.Event()
    release = threading.Event()

    def do_GET(self) -> None:
        if self.path.startswith("/slow"):
            type(self).requested.set()
            type(self).release.wait(60)
            self.send_page(200, "<title>Slow</title><h1>Arrived at last</h1>")
        else:
            self.send_page(200, LEAVING)


@pytest.fixture
def slow_site() -> Iterator[str]:
    _SlowNavigation.requested.clear()
    with serve_hanging(_SlowNavigation, _SlowNavigation.release) as url:
        yield url


async def test_a_navigation_after_a_click_does_not_hold_up_the_snapshot(
    stdio: HeldMcpSession, slow_site: str
) -> None:
    await stdio.text("browser_navigate", url=f"{slow_site}/start")
    go = grammar.find_ref(await stdio.text("browser_snapshot"), "button", "Go slowly")
    assert "clicked" in await stdio.text("browser_click", target=go)
    assert await asyncio.to_thread(_SlowNavigation.requested.wait, 10), "no navigation started"
    # The server holds the response until released: a snapshot waiting for it never returns.
    shot = await asyncio.wait_for(stdio.text("browser_snapshot"), 20)
    assert not _SlowNavigation.release.is_set()
    assert f"page: {slow_site}/start" in shot
    assert f"navigating to {slow_site}/slow" in shot and "browser_snapshot again" in shot
    _SlowNavigation.release.set()
    await stdio.text("browser_wait_for", text="Arrived at last", timeout=20)
    arrived = await stdio.text("browser_snapshot")
    assert f"page: {slow_site}/slow" in arrived and "Arrived at last" in arrived
