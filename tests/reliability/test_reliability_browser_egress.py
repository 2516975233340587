"""Egress with ``AGENT_BLOCK_PRIVATE_ADDRESSES`` on, attacked: a session's browser, driven by its
code (python, node, bash) or by a client holding its ``cdpUrl``, tries to reach this machine's
loopback by the ways issue 22 found around the old checks: names Chromium maps to loopback
(``localhost.``, ``*.localhost``), a name that resolves to loopback, a redirect hop, a page's
WebSocket, a SharedWorker's fetch and a service worker's fetch.

There is no public network here, so one local page server stands in for the public web: the test
declares its exact address and port public (``treat_as_public_for_tests``, which no setting
reaches). Everything else on loopback stays private: the API itself and a canary server that
records every request it gets; an attack is a breach when the canary hears it or the API's
``/health`` shows.

The attacker's session is opened with the Playwright routes (the early, friendlier refusal of
``agent.service.address_guard``) left out, so what holds is the box's egress checkpoint alone: its
own network namespace, whose only way out is the checkpoint. The scrape-level tests at the end run
with everything on, as a server does.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from playwright.async_api import async_playwright

from agent.browser.addresses import is_private_address, treat_as_public_for_tests
from agent.server import ServerSettings
from agent.service import registry as registry_module
from tests.harness import PageHandler, RunningServer, assert_error, quick_agent_settings, serve_http
from tests.reliability.boxed import read_page_code

CLIENTS = ("python", "node", "bash", "cdpUrl")

PUBLIC_PAGE = """<!doctype html><html><head><title>Public page</title></head>
<body><h1>Public page</h1></body></html>"""
SHARED_WORKER = """onconnect = (event) => {
  const port = event.ports[0];
  port.onmessage = async (message) => {
    try { await fetch(message.data, {mode: "no-cors"}); port.postMessage("fetched"); }
    catch (error) { port.postMessage("failed: " + error); }
  };
};"""
SERVICE_WORKER = """const target = new URL(location.href).searchParams.get("target");
self.addEventListener("install", (event) => {
  event.waitUntil(
    fetch(target, {mode: "no-cors"}).then(() => "fetched", (error) => "failed: " + error)
      .then(async (outcome) => {
        const clients = await self.clients.matchAll({includeUncontrolled: true});
        for (const client of clients) client.postMessage(outcome);
      })
  );
});"""


class PublicSite(PageHandler):
    """The stand-in for the public web: ``/page``, ``/redirect?to=URL``, ``/worker.js`` (a
    SharedWorker that fetches what it is sent) and ``/sw.js?target=URL`` (a service worker that
    fetches its target as it installs)."""

    def do_GET(self) -> None:
        parts = urllib.parse.urlsplit(self.path)
        if parts.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", urllib.parse.parse_qs(parts.query)["to"][0])
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif parts.path == "/worker.js":
            self.send_page(200, SHARED_WORKER, "text/javascript")
        elif parts.path == "/sw.js":
            self.send_page(200, SERVICE_WORKER, "text/javascript")
        else:
            self.send_page(200, PUBLIC_PAGE)


class Canary(PageHandler):
    """A private loopback server that records the path of every request it gets."""

    heard: ClassVar[list[str]] = []
    lock = threading.Lock()

    def do_GET(self) -> None:
        with self.lock:
            self.heard.append(self.path)
        self.send_page(200, "<title>canary</title>canary reached")


@pytest.fixture(scope="module")
def public() -> Iterator[str]:
    with serve_http(PublicSite) as url:
        port = int(url.rsplit(":", 1)[1])
        with treat_as_public_for_tests("127.0.0.1", port):
            yield url


@pytest.fixture(scope="module")
def canary() -> Iterator[str]:
    with serve_http(Canary) as url:
        yield url


def heard(token: str) -> list[str]:
    with Canary.lock:
        return [path for path in Canary.heard if token in path]


@pytest.fixture(scope="module")
def served(profiles_dir: Path) -> Iterator[RunningServer]:
    with RunningServer(
        ServerSettings(profiles_dir=profiles_dir, block_private_addresses=True, warm_browsers=0),
        agent_settings=quick_agent_settings(sandbox="bwrap"),
        count_launches=False,  # the browsers `agent serve` starts: boxed, with the checkpoint
    ) as server:
        yield server


async def _no_routes(*_args: Any) -> None:
    return None


@pytest.fixture(scope="module")
def attacker(served: RunningServer, public: str) -> Iterator[str]:
    """A session on the public page, opened without the Playwright routes (see the docstring)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(registry_module, "block_private_requests", _no_routes)
        session = served.scrape_id(f"{public}/page")
    yield session
    served.stop_session(session)


def loopback_name() -> str:
    """A host name (not a localhost one) that resolves to a loopback address here."""
    names = [socket.gethostname()]
    hosts = Path("/etc/hosts").read_text() if Path("/etc/hosts").exists() else ""
    for line in hosts.splitlines():
        fields = line.split("#", 1)[0].split()
        names += fields[1:]
    for name in names:
        if "localhost" in name:
            continue
        try:
            addresses = {info[4][0] for info in socket.getaddrinfo(name, None)}
        except OSError:
            continue
        if addresses and all(is_private_address(str(a)) for a in addresses):
            if any(str(a).startswith("127.") for a in addresses):
                return name
    pytest.skip("no host name here resolves to loopback")


def run(served: RunningServer, session: str, code: str, language: str) -> dict[str, Any]:
    return served.run_code(session, code, language, timeout=60)


# -- the attacks ----------------------------------------------------------------------------------

SCRIPT = {
    "python": """
await page.goto(PAGE)
await page.evaluate(SOURCE, TARGET)
""",
    "node": """
await page.goto(PAGE);
await page.evaluate("(" + SOURCE + ")(" + JSON.stringify(TARGET) + ")");
""",
    "bash": """
agent-browser open PAGE_SH >/dev/null
agent-browser eval "$(cat <<'SCRIPT'
(SOURCE_SH)(TARGET)
SCRIPT
)"
""",
}
WEBSOCKET = """async (target) => new Promise((resolve) => {
  const socket = new WebSocket(target);
  socket.onopen = () => resolve("open");
  socket.onerror = () => resolve("error");
  setTimeout(() => resolve("timeout"), 8000);
})"""
SHARED_WORKER_FETCH = """async (target) => new Promise((resolve) => {
  const worker = new SharedWorker("/worker.js?" + Math.random());
  worker.port.onmessage = (event) => resolve(event.data);
  worker.port.postMessage(target);
  setTimeout(() => resolve("timeout"), 10000);
})"""
SERVICE_WORKER_FETCH = """async (target) => new Promise((resolve) => {
  navigator.serviceWorker.addEventListener("message", (event) => resolve(event.data));
  navigator.serviceWorker
    .register("/sw.js?target=" + encodeURIComponent(target), {scope: "/sw/" + Math.random() + "/"})
    .catch((error) => resolve("not registered: " + error));
  setTimeout(() => resolve("timeout"), 10000);
})"""

# name: (how: "navigate" or a page script, the target's URL template)
ATTACKS: dict[str, tuple[str, str]] = {
    "localhost. (trailing dot)": ("navigate", "http://localhost.:API_PORT/health?TOKEN"),
    "a *.localhost name": ("navigate", "http://foo.localhost:API_PORT/health?TOKEN"),
    "a name that resolves to loopback": ("navigate", "http://LOOPBACK_NAME:CANARY_PORT/TOKEN"),
    "a redirect hop to loopback": (
        "navigate",
        "PUBLIC/redirect?to=http%3A%2F%2F127.0.0.1%3ACANARY_PORT%2FTOKEN",
    ),
    "a WebSocket to loopback": (WEBSOCKET, "ws://127.0.0.1:CANARY_PORT/TOKEN"),
    "a SharedWorker's fetch to loopback": (
        SHARED_WORKER_FETCH,
        "http://127.0.0.1:CANARY_PORT/TOKEN",
    ),
    "a service worker's fetch to loopback": (
        SERVICE_WORKER_FETCH,
        "http://127.0.0.1:CANARY_PORT/TOKEN",
    ),
}


async def _over_cdp(cdp_url: str, how: str, url: str, page_url: str) -> str:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.connect_over_cdp(cdp_url)
        try:
            page = browser.contexts[0].pages[0]
            try:
                if how == "navigate":
                    await page.goto(url, timeout=15000)
                    return str(await page.evaluate("document.documentElement.innerText"))
                await page.goto(page_url)
                return str(await page.evaluate(how, url))
            except Exception as exc:
                return f"could not: {exc}"
        finally:
            await browser.close()  # over CDP this disconnects; the session's browser stays up


def attack(served: RunningServer, session: str, how: str, url: str, page: str, client: str) -> str:
    """Run one attack from ``client``; what it showed."""
    if client == "cdpUrl":
        cdp_url = run(served, session, "1", "python")["cdpUrl"]
        return asyncio.run(_over_cdp(cdp_url, how, url, page))
    if how == "navigate":
        code = read_page_code(client, url, 15000)
    else:
        code = (
            SCRIPT[client]
            .replace("SOURCE_SH", how)
            .replace("PAGE_SH", page)
            .replace("SOURCE", json.dumps(how))
            .replace("PAGE", json.dumps(page))
            .replace("TARGET", json.dumps(url))
        )
    reply = run(served, session, code, client)
    return str(reply["stdout"] + reply["result"] + reply["stderr"])


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("name", list(ATTACKS))
def test_the_checkpoint_refuses_private_addresses_however_reached(
    served: RunningServer, attacker: str, public: str, canary: str, name: str, client: str
) -> None:
    how, template = ATTACKS[name]
    token = f"tok{abs(hash((name, client)))}"
    url = (
        template.replace("API_PORT", served.url.rsplit(":", 1)[1])
        .replace("CANARY_PORT", canary.rsplit(":", 1)[1])
        .replace("PUBLIC", public)
        .replace("TOKEN", token)
    )
    if "LOOPBACK_NAME" in url:
        url = url.replace("LOOPBACK_NAME", loopback_name())
    shown = attack(served, attacker, how, url, f"{public}/page", client)
    assert not heard(token), f"BREACH: {name} via {client} reached the canary: {shown[:300]}"
    assert "browsersReady" not in shown, f"BREACH: {name} via {client}: {shown[:300]}"
    # The session still reaches the public web.
    reply = run(served, attacker, f"await page.goto({json.dumps(public + '/page')})", "python")
    assert reply["success"], reply


# -- the scrape, with everything on ----------------------------------------------------------------


def test_a_redirect_hop_to_loopback_is_a_403(
    served: RunningServer, public: str, canary: str
) -> None:
    target = f"http://127.0.0.1:{canary.rsplit(':', 1)[1]}/scrape-redirect"
    response = served.scrape(f"{public}/redirect?to={urllib.parse.quote(target, safe='')}")
    body = assert_error(response, 403, "127.0.0.1")
    assert body["code"] == "SCRAPE_BLOCKED"
    assert not heard("scrape-redirect")


@pytest.mark.parametrize("host", ["localhost.", "foo.localhost", "Foo.LocalHost."])
def test_names_chromium_maps_to_loopback_are_a_403(served: RunningServer, host: str) -> None:
    port = served.url.rsplit(":", 1)[1]
    body = assert_error(served.scrape(f"http://{host}:{port}/health"), 403)
    assert body["code"] == "SCRAPE_BLOCKED"


def test_the_public_web_still_loads_through_the_checkpoint(
    served: RunningServer, public: str
) -> None:
    response = served.scrape(f"{public}/page", formats=["markdown", "screenshot"])
    assert response.status_code == 200, response.text
    assert "Public page" in response.json()["data"]["markdown"]
