"""The clickable scan's short way to a page (``agent.browser.main_world``), also taken by a ref's
document check: the session's router evaluates in the page's main world itself. It answers what
the page's own world holds, no client of the session's DevTools sees its messages, and a page
that tampers with the scan only sends it back the long way, through Playwright, with the same
snapshot."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets

from agent.browser.main_world import MainWorld, MainWorldUnavailable
from agent.browser.refs import document_id
from agent.browser.session import BrowserSession
from agent.errors import StaleRefError
from tests.browser.snapshot_lines import ref_of

_SCAN_FUNCTION = 'globalThis[Symbol.for("browser-agent.clickables.scan")]'


class _CountedEvaluate:
    """Counts the page's Playwright ``evaluate`` calls (an instance attribute over the method)."""

    def __init__(self, session: BrowserSession) -> None:
        self.page = session.page
        self.calls = 0
        self._evaluate = type(self.page).evaluate.__get__(self.page)

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return await self._evaluate(*args, **kwargs)

    def __enter__(self) -> _CountedEvaluate:
        self.page.evaluate = self  # type: ignore[method-assign]
        return self

    def __exit__(self, *_: object) -> None:
        del self.page.evaluate


async def test_the_router_evaluates_in_the_pages_main_world(session: BrowserSession, site: str):
    await session.goto(f"{site}/clickables_live.html")
    world = MainWorld(session.handle.router)
    await session.page.evaluate("window.pageOwn = 41")
    assert await world.evaluate(session.page, "window.pageOwn + 1") == 42
    await session.goto(f"{site}/page2.html")  # a new document, the same page
    assert await world.evaluate(session.page, "document.title") == await session.page.title()
    assert await world.evaluate(session.page, "typeof window.pageOwn") == "undefined"
    # Another site: Chromium moves the page to another renderer process; the session follows.
    await session.goto(f"{site.replace('127.0.0.1', 'localhost')}/clickables_live.html")
    assert await world.evaluate(session.page, "location.hostname") == "localhost"
    with pytest.raises(MainWorldUnavailable):
        await world.evaluate(session.page, "(() => { throw new Error('no') })()")
    tab = await session.new_tab()
    await tab.close()
    with pytest.raises(MainWorldUnavailable):
        await world.evaluate(tab, "1")


async def test_a_refs_document_is_read_the_short_way_with_the_same_id(
    session: BrowserSession, site: str
):
    """A ref's document check reads ``performance.timeOrigin`` through the router, without
    Playwright's evaluate; the id is the one Playwright reads (and the scan issues refs under),
    and it changes with a reload."""
    await session.goto(f"{site}/clickables_live.html")
    world = MainWorld(session.handle.router)
    with _CountedEvaluate(session) as counted:
        short = await document_id(session.page, world)
    assert counted.calls == 0
    assert short == await document_id(session.page)
    ref = ref_of((await session.snapshot()).text, 'clickable "alpha"')
    await session.resolve(ref)  # live: found
    await session.page.reload()
    again = await document_id(session.page, world)
    assert again != short and again == await document_id(session.page)
    with _CountedEvaluate(session) as counted, pytest.raises(StaleRefError, match="reloaded"):
        await session.resolve(ref)  # told by the document check, made the short way
    assert counted.calls == 0


async def test_a_snapshots_scan_takes_the_short_way_and_finds_the_same_clickables(
    session: BrowserSession, site: str
):
    await session.goto(f"{site}/clickables_live.html")
    with _CountedEvaluate(session) as counted:
        first = await session.snapshot()
        await session.page.evaluate(
            "document.getElementById('more').insertAdjacentHTML('beforeend', "
            "'<p>Then <span class=pick id=beta>beta</span> too.</p>')"
        )
        calls_before = counted.calls
        second = await session.snapshot()
        assert counted.calls == calls_before  # the scans went through the router
    ref_of(first.text, 'clickable "alpha"')
    beta = ref_of(second.text, 'clickable "beta"')
    await (await session.resolve(beta)).click()
    assert await session.page.inner_text("#out") == "clicked beta"


@pytest.mark.parametrize(
    ("tampering", "long_way"),
    [
        (f"{_SCAN_FUNCTION} = () => ({{items: 'not a list'}})", True),
        (f"{_SCAN_FUNCTION} = () => {{ throw new Error('sabotage') }}", True),
        # No function at all: the document is given the scan's function again.
        (f"{_SCAN_FUNCTION} = 'not a function'", False),
    ],
)
async def test_a_page_that_replaces_the_scan_function_still_gets_its_clickables(
    session: BrowserSession, site: str, tampering: str, long_way: bool
):
    await session.goto(f"{site}/clickables_live.html")
    honest = await session.snapshot()
    await session.page.evaluate(f"() => {{ {tampering}; }}")
    await session.page.evaluate(
        "document.getElementById('more').insertAdjacentHTML('beforeend', "
        "'<p>Then <span class=pick id=beta>beta</span> too.</p>')"
    )
    with _CountedEvaluate(session) as counted:
        shot = await session.snapshot()
    assert (counted.calls >= 1) is long_way  # whether Playwright ran the scan's script
    assert ref_of(shot.text, 'clickable "alpha"') == ref_of(honest.text, 'clickable "alpha"')
    await (await session.resolve(ref_of(shot.text, 'clickable "beta"'))).click()
    assert await session.page.inner_text("#out") == "clicked beta"


async def test_no_client_of_the_sessions_devtools_sees_the_routers_own_page_session(
    session: BrowserSession, site: str
):
    await session.goto(f"{site}/clickables_live.html")
    seen: list[str] = []
    socket = str(session.handle.client_socket)
    async with websockets.unix_connect(socket, "ws://localhost/devtools/browser") as client:

        async def read() -> None:
            async for text in client:
                seen.append(str(text))

        reader = asyncio.ensure_future(read())
        await client.send(json.dumps({"id": 1, "method": "Target.setDiscoverTargets",
                                      "params": {"discover": True}}))  # fmt: skip
        for number in range(3):
            await session.page.evaluate(f"document.body.append('change {number}')")
            await session.snapshot()
        await client.send(json.dumps({"id": 2, "method": "Target.getTargets", "params": {}}))
        for _ in range(100):
            if any('"id":2' in text.replace(" ", "") for text in seen):
                break
            await asyncio.sleep(0.05)
        reader.cancel()
    assert any('"id":2' in text.replace(" ", "") for text in seen)
    answers = [json.loads(text) for text in seen if '"id"' in text]
    assert {answer["id"] for answer in answers if "id" in answer} <= {1, 2}
    assert not any("nonce" in text or "browser-agent" in text for text in seen)
