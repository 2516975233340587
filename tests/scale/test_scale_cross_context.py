"""Sessions sharing one remote browser, attacked: a session's code and a client holding its
``cdpUrl`` try to read another session's ``document.cookie``, from every client
(``tests/reliability/devtools_clients.py``: python, node and bash code, a raw WebSocket and
Playwright from outside):

* through nested sessions, one and two levels deep, started on the flat session of the client's
  own page (``flatten: false``, commands wrapped in ``Target.sendMessageToTarget``): list the
  targets, attach to the other session's page from inside, evaluate ``document.cookie``;
* on the flat session of the client's own page (one level below its browser session, where
  only browser sessions used to get the full rules): list the targets, attach to, inspect and
  close the other session's page, and open a tab in its browser context.

The other session's page, context and cookie stay out of reach, and it keeps working.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from playwright.async_api import CDPSession, async_playwright

from agent.server import ServerSettings
from tests.harness import RunningServer, quick_agent_settings
from tests.reliability import cdp_nested
from tests.reliability.devtools_clients import (
    CLIENTS,
    NESTED_JS,
    bash_call,
    from_code,
    python_call,
)
from tests.reliability.test_reliability_sandbox import run
from tests.scale.test_scale_confinement import _target_of

COOKIE = "sid=bob-cookie-7e1f"


@pytest.fixture(scope="module")
def served(cdp_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    settings = ServerSettings(
        browser_endpoints=[{"kind": "cdp", "url": cdp_endpoint, "capacity": 4}],
        profiles_dir=tmp_path_factory.mktemp("profiles"),
        warm_browsers=0,
    )
    with RunningServer(settings, agent_settings=quick_agent_settings(sandbox="bwrap")) as server:
        yield server


@pytest.fixture(scope="module")
def victim(served: RunningServer, site: str) -> Iterator[dict[str, str]]:
    """Session B, with a cookie of its own: its id, page, context."""
    bob = served.scrape_id(f"{site}/form.html?who=b")
    served.evaluate(bob, f"document.cookie = '{COOKIE}; path=/'")
    browser = served.registry.get(bob).browser_session
    yield {
        "id": bob,
        "target": served.run(_target_of(browser)),
        "context": str(browser.handle.context_id),
    }
    served.stop_session(bob)


@pytest.fixture
def scraped(served: RunningServer, site: str) -> Iterator[tuple[str, str]]:
    """A fresh session A (attacks open tabs) and its cdpUrl."""
    alice = served.scrape_id(f"{site}/form.html?who=a")
    cdp_url = run(served, alice, "1", "python")["cdpUrl"]
    yield alice, cdp_url
    served.stop_session(alice)


def untouched(served: RunningServer, victim: dict[str, str], site: str) -> None:
    """B still has its one page, its cookie, and runs code."""
    browser = served.registry.get(victim["id"]).browser_session
    assert [page.url for page in browser.context.pages] == [f"{site}/form.html?who=b"]
    assert served.evaluate(victim["id"], "document.cookie") == COOKIE
    assert run(served, victim["id"], "page.url", "python")["result"].endswith("who=b")


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("depth", [1, 2])
def test_nested_sessions_do_not_read_another_sessions_cookie(
    served: RunningServer,
    victim: dict[str, str],
    scraped: tuple[str, str],
    site: str,
    client: str,
    depth: int,
) -> None:
    said = _nested_on_page(served, scraped, client, depth)
    assert COOKIE not in json.dumps(said), f"BREACH: read B's cookie: {said}"
    assert said["breach"] is None, f"BREACH: the nested session answered: {said}"
    assert "flatten: true only" in str(said["refused"]), said
    untouched(served, victim, site)


NESTED_ARGS = "payload='cookie', secret='who=b', download_dir='', own_target=own"


def _nested_on_page(
    served: RunningServer, scraped: tuple[str, str], client: str, depth: int
) -> dict[str, Any]:
    """The nested cookie attack from ``client``, on the flat session of its own page."""
    scrape_id, cdp_url = scraped
    call = f"attack(send, events, depth={depth}, {NESTED_ARGS})"
    if client == "python":
        code = python_call(call).replace(
            "page.context.browser.new_browser_cdp_session()", "page.context.new_cdp_session(page)"
        )
        code = code.replace(
            "send, events = await over_playwright(cdp)\n",
            "send, events = await over_playwright(cdp)\n"
            "own = (await send('Target.getTargetInfo', {}))['targetInfo']['targetId']\n",
        )
        return dict(from_code(served, scrape_id, "python", code))
    if client == "bash":
        script = bash_call(call).replace(
            "    print(json.dumps(await attack",
            "    send, own = await own_page_session(send, 'who=a')\n"
            "    print(json.dumps(await attack",
        )
        return dict(from_code(served, scrape_id, "bash", script))
    if client == "node":
        code = NESTED_JS
        for name, value in [
            ("ON_PAGE", True), ("DEPTH", depth), ("PAYLOAD", "cookie"), ("SECRET", "who=b"),
            ("DOWNLOAD_DIR", ""), ("DOWNLOAD_JS", ""),
        ]:  # fmt: skip
            code = code.replace(name, json.dumps(value))
        return dict(from_code(served, scrape_id, "node", code))
    return dict(asyncio.run(_nested_from_outside(cdp_url, client, depth)))


async def _nested_from_outside(cdp_url: str, client: str, depth: int) -> Any:
    kwargs: dict[str, Any] = {"depth": depth, "payload": "cookie", "secret": "who=b"}
    if client == "websocket":
        send, events, connection = await cdp_nested.over_websocket(cdp_url)
        try:
            on_page, own = await cdp_nested.own_page_session(send, "who=a")
            return await cdp_nested.attack(
                on_page, events, download_dir="", own_target=own, **kwargs
            )
        finally:
            await connection.close()
    async with _own_page_over_playwright(cdp_url) as cdp:
        send, events = await cdp_nested.over_playwright(cdp)
        own = (await send("Target.getTargetInfo", {}))["targetInfo"]["targetId"]
        return await cdp_nested.attack(send, events, download_dir="", own_target=own, **kwargs)


@asynccontextmanager
async def _own_page_over_playwright(cdp_url: str) -> AsyncIterator[CDPSession]:
    """A DevTools session on A's own page, through Playwright connected to A's cdpUrl."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.connect_over_cdp(cdp_url)
        try:
            page = next(p for c in browser.contexts for p in c.pages if "who=a" in p.url)
            yield await page.context.new_cdp_session(page)
        finally:
            await browser.close()


FLAT_JS = """
const cdp = await page.context().newCDPSession(page);
const said = {};
const infos = (await cdp.send("Target.getTargets", {})).targetInfos;
const listed = infos.filter((info) => info.url.includes("who=b")).map((info) => info.url);
said["Target.getTargets"] = listed.length ? "listed " + listed : "listed none of theirs";
for (const [method, params] of [
  ["Target.attachToTarget", { targetId: TARGET, flatten: true }],
  ["Target.createTarget", { url: "about:blank", browserContextId: CONTEXT }],
  ["Target.getTargetInfo", { targetId: TARGET }],
  ["Target.closeTarget", { targetId: TARGET }],
]) {
  try { said[method] = "ANSWERED " + JSON.stringify(await cdp.send(method, params)); }
  catch (error) { said[method] = String(error.message || error); }
}
JSON.stringify(said);
"""


def _flat_probe(
    served: RunningServer, scraped: tuple[str, str], client: str, victim: dict[str, str]
) -> dict[str, str]:
    scrape_id, cdp_url = scraped
    known = {"victim_target": victim["target"], "victim_context": victim["context"]}
    call = "cross_context_flat(on_page, victim_url_part='who=b', " + ", ".join(
        f"{name}={value!r}" for name, value in known.items()
    )
    if client == "python":
        code = python_call("1").replace(
            "json.dumps(await 1)",
            f"on_page = (await page.context.new_cdp_session(page)).send\njson.dumps(await {call}))",
        )
        return dict(from_code(served, scrape_id, "python", code))
    if client == "bash":
        script = bash_call(f"{call})").replace(
            "    print(json.dumps(await cross",
            "    on_page, _ = await own_page_session(send, 'who=a')\n"
            "    print(json.dumps(await cross",
        )
        return dict(from_code(served, scrape_id, "bash", script))
    if client == "node":
        code = FLAT_JS.replace("TARGET", json.dumps(victim["target"]))
        code = code.replace("CONTEXT", json.dumps(victim["context"]))
        return dict(from_code(served, scrape_id, "node", code))
    return dict(asyncio.run(_flat_from_outside(cdp_url, client, known)))


async def _flat_from_outside(cdp_url: str, client: str, known: dict[str, str]) -> Any:
    if client == "websocket":
        send, _events, connection = await cdp_nested.over_websocket(cdp_url)
        try:
            on_page, _ = await cdp_nested.own_page_session(send, "who=a")
            return await cdp_nested.cross_context_flat(on_page, victim_url_part="who=b", **known)
        finally:
            await connection.close()
    async with _own_page_over_playwright(cdp_url) as cdp:
        return await cdp_nested.cross_context_flat(cdp.send, victim_url_part="who=b", **known)


@pytest.mark.parametrize("client", CLIENTS)
def test_a_pages_session_reaches_no_other_context(
    served: RunningServer,
    victim: dict[str, str],
    scraped: tuple[str, str],
    site: str,
    client: str,
) -> None:
    said = _flat_probe(served, scraped, client, victim)
    assert said["Target.getTargets"] == "listed none of theirs", said
    for method in ("Target.attachToTarget", "Target.getTargetInfo", "Target.closeTarget"):
        assert said[method].endswith("No target with given id found."), (method, said)
    assert said["Target.createTarget"].endswith("No browser context with given id found."), said
    untouched(served, victim, site)
