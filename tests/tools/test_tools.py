"""Every browser tool, driven through the ToolBox as the planner calls it, on real pages."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import ClassVar

import pytest
from playwright.async_api import Route

from agent.browser.session import BrowserSession
from tests.browser.snapshot_lines import ref_of
from tests.harness import PageHandler, serve_hanging, serve_http
from tools import BROWSER_TOOLS, ToolContext, default_toolbox, navigation
from tools.elements import ensure_actionable, requests_routed

toolbox = default_toolbox()


async def call(session: BrowserSession, name: str, **arguments: object) -> tuple[str, bool]:
    outcome = await toolbox.call(ToolContext(session), name, dict(arguments))
    return outcome.content, outcome.is_error


async def fresh(session: BrowserSession, url: str) -> str:
    await session.goto(url)
    return (await session.snapshot()).text


def test_every_tool_has_a_generated_schema_with_described_arguments():
    names = {t.name for t in BROWSER_TOOLS}
    assert {"click", "fill", "type", "press", "scroll", "get_text", "select_option", "check",
            "uncheck", "hover", "wait_for", "navigate", "go_back", "snapshot"} <= names  # fmt: skip
    for spec in toolbox.specs:
        assert spec.description and spec.parameters["type"] == "object"
        assert spec.parameters.get("additionalProperties") is False
        for name, prop in spec.parameters.get("properties", {}).items():
            assert prop.get("description"), f"{spec.name}.{name} has no description"


async def test_click_fill_select_check_and_submit(session, site):
    text = await fresh(session, f"{site}/form.html")
    out, err = await call(session, "fill", ref=ref_of(text, 'textbox "Name"'), value="Grace")
    assert not err and "Grace" in out
    out, err = await call(
        session, "select_option", ref=ref_of(text, 'combobox "Size"'), values=["Large"]
    )
    assert not err, out
    out, err = await call(session, "check", ref=ref_of(text, 'checkbox "I agree"'))
    assert not err, out
    out, err = await call(session, "check", ref=ref_of(text, 'radio "Blue"'))
    assert not err, out
    out, err = await call(session, "click", ref=ref_of(text, 'button "Submit"'))
    assert not err and out.startswith("clicked @e")
    assert await session.page.inner_text("#out") == "Submitted Grace / l / agreed"
    assert await session.page.is_checked("input[value=blue]")
    out, err = await call(session, "uncheck", ref=ref_of(text, 'checkbox "I agree"'))
    assert not err and not await session.page.is_checked("#agree")


async def test_select_option_unknown_value_lists_the_options(session, site):
    text = await fresh(session, f"{site}/form.html")
    out, err = await call(
        session, "select_option", ref=ref_of(text, 'combobox "Size"'), values=["Huge"]
    )
    assert err and "'Small', 'Medium', 'Large'" in out
    out, err = await call(
        session, "select_option", ref=ref_of(text, 'button "Submit"'), values=["x"]
    )
    assert err and "not a native dropdown" in out


async def test_type_appends_and_press_sends_keys(session, site):
    text = await fresh(session, f"{site}/form.html")
    name = ref_of(text, 'textbox "Name"')
    await call(session, "fill", ref=name, value="Ada")
    out, err = await call(session, "type", ref=name, text=" Lovelace")
    assert not err, out
    assert await session.page.input_value("#name") == "Ada Lovelace"
    out, err = await call(
        session, "press", key="ArrowDown", ref=ref_of(text, 'textbox "Key catcher"')
    )
    assert not err and await session.page.inner_text("#out") == "key ArrowDown"
    out, err = await call(session, "press", key="NotAKey")
    assert err and "not a key name" in out


async def test_hover_reveals_menu(session, site):
    text = await fresh(session, f"{site}/form.html")
    assert "Settings" not in text
    out, err = await call(session, "hover", ref=ref_of(text, 'button "Menu"'))
    assert not err, out
    assert 'link "Settings"' in (await session.snapshot()).text


async def test_disabled_element_gives_an_actionable_error_fast(session, site):
    text = await fresh(session, f"{site}/form.html")
    out, err = await call(session, "click", ref=ref_of(text, 'button "Locked"'))
    assert err and "disabled" in out


async def test_covered_element_says_what_covers_it(session, site):
    text = await fresh(session, f"{site}/overlay.html")
    out, err = await call(session, "click", ref=ref_of(text, 'button "Buy"'))
    assert err and "covered" in out and "cookie-banner" in out
    await call(session, "click", ref=ref_of(text, 'button "Accept"'))
    out, err = await call(session, "click", ref=ref_of(text, 'button "Buy"'))
    assert not err, out
    assert await session.page.inner_text("#out") == "clicked under"


async def test_stale_ref_comes_back_to_the_model_as_text(session, site):
    text = await fresh(session, f"{site}/form.html")
    swap = ref_of(text, 'button "Swap"')
    await call(session, "click", ref=swap)
    out, err = await call(session, "click", ref=swap)
    assert err and "stale ref" in out and "new snapshot" in out


async def test_bad_arguments_and_unknown_tool_are_model_fixable(session, site):
    await fresh(session, f"{site}/form.html")
    out, err = await call(session, "click")
    assert err and "ref" in out and "Field required" in out
    out, err = await call(session, "scroll", direction="sideways")
    assert err and "direction" in out
    out, err = await call(session, "teleport", to="mars")
    assert err and "no tool named 'teleport'" in out and "click" in out


async def test_scroll_page_and_element(session, site):
    text = await fresh(session, f"{site}/form.html")
    out, err = await call(session, "scroll", direction="down", amount=500)
    assert not err and "by 500px" in out
    assert await session.page.evaluate("scrollY") == 500
    out, err = await call(session, "scroll", direction="up", amount=10000)
    assert not err and await session.page.evaluate("scrollY") == 0
    out, err = await call(session, "scroll", direction="up")
    assert not err and "did not move" in out
    box = ref_of(text, 'region "Scroll box"')
    out, err = await call(session, "scroll", ref=box, direction="down", amount=300)
    assert not err, out
    assert await session.page.evaluate("document.getElementById('box').scrollTop") == 300


async def test_get_text_of_element_and_page(session, site):
    text = await fresh(session, f"{site}/page2.html")
    out, err = await call(session, "get_text")
    assert not err and "The secret number is 4217." in out
    out, err = await call(session, "get_text", ref=ref_of(text, 'link "Back to form"'))
    assert not err and out == "Back to form"


async def test_get_text_pages_long_text(session, site):
    await fresh(session, f"{site}/long.html")
    out, _ = await call(session, "get_text")
    assert "call get_text with offset=6000" in out
    rest, _ = await call(session, "get_text", offset=6000)
    whole = "\n".join(
        line.strip()
        for line in (await session.page.inner_text("body")).splitlines()
        if line.strip()
    )
    assert rest.startswith(whole[6000:6100])
    assert "offset=12000" in rest


async def test_wait_for_text_ref_and_load_state(session, site):
    text = await fresh(session, f"{site}/form.html")
    await call(session, "click", ref=ref_of(text, 'button "Load later"'))
    out, err = await call(session, "wait_for", text="Loaded later", timeout_s=3)
    assert not err, out
    out, err = await call(session, "wait_for", text="Never appears", timeout_s=0.3)
    assert err and "did not happen" in out
    out, err = await call(
        session, "wait_for", load_state="load", ref=ref_of(text, 'button "Submit"')
    )
    assert not err, out
    out, err = await call(session, "wait_for")
    assert err


async def test_wait_for_network_idle_counts_a_request_started_once_the_page_was_quiet(
    session, site
):
    """Playwright's networkidle is reached once per navigation; a request the page starts
    later (a click's fetch) must still be waited for."""
    await fresh(session, f"{site}/form.html")
    await session.page.wait_for_load_state("networkidle")

    asked = asyncio.Event()

    async def slow(route: Route) -> None:
        asked.set()
        await asyncio.sleep(1.5)
        await route.fulfill(body="answered")

    async def start_request() -> None:
        """A fetch the page starts and does not wait for, under way when this returns."""
        asked.clear()
        await session.page.evaluate(
            "() => { fetch('/slow').then((r) => r.text()).then((t) => { document.title = t; }); }"
        )
        await asyncio.wait_for(asked.wait(), 10)

    await session.page.route("**/slow", slow)
    try:
        await start_request()
        out, err = await call(session, "wait_for", load_state="networkidle", timeout_s=10)
        assert not err and out == "done waiting: page reached networkidle", out
        assert await session.page.title() == "answered"
        await session.page.evaluate("document.title = 'asked again'")
        await start_request()
        out, err = await call(session, "wait_for", load_state="networkidle", timeout_s=0.5)
        assert err and "load state networkidle; it did not happen" in out, out
        out, err = await call(session, "wait_for", load_state="networkidle", timeout_s=10)
        assert not err and await session.page.title() == "answered", out
    finally:
        await session.page.unroute("**/slow", slow)


_LOADS_THEN_ASKS = """<title>waiting</title><script>
const busy = (ms) => { const end = Date.now() + ms; while (Date.now() < end); };
addEventListener("load", () => setTimeout(() => fetch("/first")
  .then((r) => r.text()).then(() => { busy(250); return fetch("/second"); })
  .then((r) => r.text()).then((t) => { document.title = t; }), 0));
</script>"""


async def test_navigate_waits_for_the_requests_a_loaded_page_starts(session, site):
    """Navigate no longer waits a fixed quiet window after the load event, only until the page
    has run idle; what the loaded page then asks for (a load handler's timer starts a request
    whose answer, after 250 ms of work, starts another: longer than the old window) is still
    waited for, each time. Here through routes, which announce a request late."""

    async def document(route: Route) -> None:
        await route.fulfill(body=_LOADS_THEN_ASKS, content_type="text/html")

    async def slow(route: Route) -> None:
        await asyncio.sleep(0.3)
        await route.fulfill(body="answered" if route.request.url.endswith("second") else "x")

    routes = (("**/loads-then-asks.html*", document), ("**/first", slow), ("**/second", slow))
    for pattern, handler in routes:
        await session.page.route(pattern, handler)
    try:
        assert requests_routed(session.page)
        for attempt in range(5):
            out, err = await call(session, "navigate", url=f"{site}/loads-then-asks.html?{attempt}")
            assert not err and "title 'answered'" in out, out  # the title once settled
            assert await session.page.title() == "answered", attempt
    finally:
        for pattern, handler in routes:
            await session.page.unroute(pattern, handler)


class _LoadsThenAsks(PageHandler):
    """The same page and answers from a server of its own: no route announces them late."""

    def do_GET(self) -> None:
        if self.path.startswith("/loads-then-asks"):
            self.send_page(200, _LOADS_THEN_ASKS)
            return
        time.sleep(0.3)
        self.send_page(200, "answered" if self.path == "/second" else "x", "text/plain")


async def test_navigate_waits_for_the_requests_a_loaded_page_starts_unrouted(session):
    """Without routes, no wait for a late announcement: the requests are seen in time all the
    same."""
    assert not requests_routed(session.page)
    with serve_http(_LoadsThenAsks) as url:
        for attempt in range(5):
            out, err = await call(session, "navigate", url=f"{url}/loads-then-asks?{attempt}")
            assert not err and "title 'answered'" in out, out  # the title once settled
            assert await session.page.title() == "answered", attempt


async def test_requests_routed_follows_the_routes_of_the_page_and_its_context(session):
    """Read from Playwright's private route lists: a Playwright that moved them must fail here,
    not silently make every navigate wait."""

    async def passing(route: Route) -> None:
        await route.fallback()

    page = session.page
    assert not requests_routed(page)
    await page.route("**/nothing", passing)
    assert requests_routed(page)
    await page.unroute("**/nothing", passing)
    assert not requests_routed(page)
    await page.context.route("**/nothing", passing)
    try:
        assert requests_routed(page)
    finally:
        await page.context.unroute("**/nothing", passing)
    assert not requests_routed(page)


class _HangingImage(PageHandler):
    """A page whose image never arrives (until the test ends)."""

    release = threading.Event()

    def do_GET(self) -> None:
        if self.path.startswith("/never"):
            type(self).release.wait(60)
            self.send_page(200, b"", "image/png")
        else:
            self.send_page(200, '<title>Mostly here</title><h1>Read me now</h1><img src="/never">')


async def test_navigate_does_not_wait_for_a_resource_that_hangs(session, monkeypatch):
    """The load event waits for every image; one that never arrives must not hold navigate
    until its timeout: it answers after a bounded wait, says the page is still loading, and
    what the page has is there to read."""
    monkeypatch.setattr(navigation, "_LOAD_WAIT_S", 1.0)
    with serve_hanging(_HangingImage, _HangingImage.release) as url:
        out, err = await asyncio.wait_for(call(session, "navigate", url=f"{url}/page"), 15)
        assert not err and "still loading after 1 s" in out and "'Mostly here'" in out, out
        assert "Read me now" in (await session.snapshot()).text


class _HangingExtras(PageHandler):
    """A page whose icon, prefetch, manifest and beacon never answer (until the test ends),
    nor does anything else it asks for; the paths asked for are noted in ``seen``."""

    release = threading.Event()
    seen: ClassVar[set[str]] = set()

    def do_GET(self) -> None:
        if self.path == "/page":
            self.send_page(200, _EXTRAS_PAGE)
            return
        type(self).seen.add(self.path)
        type(self).release.wait(60)
        self.send_page(200, b"", "application/octet-stream")

    do_POST = do_GET


_EXTRAS_PAGE = """<title>Extras</title><link rel="icon" href="/icon.png">
<link rel="prefetch" href="/later.json"><link rel="manifest" href="/app.webmanifest">
<h1>Here</h1>
<script>addEventListener("load", () => navigator.sendBeacon("/beacon", "x"));</script>"""


async def test_navigate_does_not_wait_for_what_no_content_waits_for(session):
    """The tab's icon (fetched by the browser after the load event: on a first visit the one
    request in flight then), a prefetch, the manifest and a beacon do not count as the page's
    requests in flight; a preload the page's script will read (typed as an icon is) does."""
    _HangingExtras.seen.clear()
    with serve_hanging(_HangingExtras, _HangingExtras.release) as url:
        try:
            out, err = await call(session, "navigate", url=f"{url}/page")
            assert not err and "'Extras'" in out, out
            extras = {"/icon.png", "/later.json", "/app.webmanifest", "/beacon"}
            await _until(lambda: extras <= _HangingExtras.seen, f"asked for {extras}")
            assert session.network.idle
            await session.page.evaluate(
                """() => document.head.append(Object.assign(document.createElement("link"), {
                   rel: "preload", as: "fetch", href: "/data.json", crossOrigin: "anonymous"}))"""
            )
            await _until(lambda: not session.network.idle, "the preload counted as in flight")
        finally:
            await session.page.goto("about:blank")  # ends the hanging requests in the browser


class _ClickToHangingIcon(PageHandler):
    """A link to a page whose icon never answers (until the test ends) and whose data takes
    0.3 s, so the click's wait is still under way when the browser asks for the icon."""

    release = threading.Event()
    seen: ClassVar[set[str]] = set()

    def do_GET(self) -> None:
        type(self).seen.add(self.path)
        if self.path == "/start":
            self.send_page(200, '<title>Start</title><a href="/next">Next</a>')
        elif self.path == "/next":
            self.send_page(
                200,
                '<title>Next</title><link rel="icon" href="/next-icon.png"><h1>Arrived</h1>'
                '<script>addEventListener("load", () => fetch("/data"));</script>',
            )
        elif self.path == "/data":
            time.sleep(0.3)
            self.send_page(200, "data", "text/plain")
        else:
            type(self).release.wait(60)
            self.send_page(200, b"", "image/png")


async def test_a_click_that_navigates_does_not_wait_for_the_new_pages_icon(session):
    """The icon of the page a click leads to is told apart as navigate's is (the page is asked
    for its icons when a request typed as icons are is in flight), so it does not hold the
    click's wait for quiet (3 s for one that hangs)."""
    _ClickToHangingIcon.seen.clear()
    with serve_hanging(_ClickToHangingIcon, _ClickToHangingIcon.release) as url:
        try:
            text = await fresh(session, f"{url}/start")
            out, err = await call(session, "click", ref=ref_of(text, 'link "Next"'))
            assert not err and session.page.url.endswith("/next"), out
            await _until(lambda: "/next-icon.png" in _ClickToHangingIcon.seen, "icon asked for")
            assert session.network.idle
        finally:
            await session.page.goto("about:blank")


async def _until(condition: Callable[[], bool], what: str, timeout_s: float = 10) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        assert loop.time() < deadline, f"not in {timeout_s} s: {what}"
        await asyncio.sleep(0.05)


async def test_navigate_go_back_and_links(session, site):
    text = await fresh(session, f"{site}/form.html")
    out, err = await call(session, "click", ref=ref_of(text, 'link "Next page"'))
    assert not err and "navigated to" in out and session.page.url.endswith("page2.html")
    out, err = await call(session, "go_back")
    assert not err and session.page.url.endswith("form.html")
    out, err = await call(session, "navigate", url="page2.html")
    assert not err and "Second page" in out
    out, err = await call(session, "navigate", url=f"{site}/missing.html")
    assert not err and "HTTP 404" in out
    out, err = await call(session, "navigate", url="http://127.0.0.1:9/")
    assert err and "Could not open" in out


async def test_new_tab_becomes_the_current_page(site):
    async with await BrowserSession.start(action_timeout_s=2.0) as tab_session:
        text = await fresh(tab_session, f"{site}/form.html")
        out, err = await call(tab_session, "click", ref=ref_of(text, 'link "Open in new tab"'))
        assert not err and "new tab" in out, out
        assert tab_session.page.url.endswith("page2.html")
        out, _ = await call(tab_session, "get_text")
        assert "4217" in out


async def test_snapshot_tool_modes_scope_and_paging(session, site):
    await fresh(session, f"{site}/form.html")
    out, err = await call(session, "snapshot", mode="interactive")
    assert not err and out.startswith("@e")
    out, err = await call(session, "snapshot", scope="#signup")
    assert not err and "Submit" in out and "Far button" not in out
    out, err = await call(session, "snapshot", scope="#nope")
    assert err and "No element matches" in out
    out, err = await call(session, "snapshot", page=0)
    assert err


@pytest.mark.parametrize("spelling", ["@e{n}", "e{n}", "ref=e{n}"])
async def test_refs_accepted_in_every_spelling(session, site, spelling):
    text = await fresh(session, f"{site}/page2.html")
    number = ref_of(text, "link").lstrip("@e")
    out, err = await call(session, "get_text", ref=spelling.format(n=number))
    assert not err and out == "Back to form"


async def test_dblclick(session, site):
    await session.goto(f"{site}/form.html")
    await session.page.evaluate(
        "document.getElementById('rename').addEventListener('dblclick', "
        "() => { document.getElementById('out').textContent = 'double'; })"
    )
    text = (await session.snapshot()).text
    out, err = await call(session, "dblclick", ref=ref_of(text, 'button "Rename me"'))
    assert not err and out.startswith("double-clicked")
    assert await session.page.inner_text("#out") == "double"


async def test_what_opens_a_new_tab_is_known_before_the_click(session):
    """A click on what opens a new tab waits for the tab to be announced (a busy machine can
    announce it after the settle's pause, and the click's result would not say so)."""
    await session.page.set_content(
        """<a id="blank" href="/x" target="_blank">new</a> <a id="same" href="/y">same</a>
        <form target="_blank" action="/z"><input id="field"><button id="go">Go</button>
        <input id="pic" type="image" alt="Go too"></form>
        <form action="/w"><button id="here" formtarget="_BLANK">Here</button></form>"""
    )
    opens = {}
    for element in ("blank", "same", "field", "go", "pic", "here"):
        state = await ensure_actionable(session.page.locator(f"#{element}"), element, pointer=True)
        opens[element] = state.get("opensTab")
    assert opens == {
        "blank": True, "same": False, "field": False, "go": True, "pic": True, "here": True,
    }  # fmt: skip
