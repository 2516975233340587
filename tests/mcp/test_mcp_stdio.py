"""``agent mcp`` over stdio, driven by the official MCP client: the tools it lists, a session of
navigating, snapshotting, typing and clicking by ref on a local page, and what comes back as an
error; then that closing the connection leaves no browser behind."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import sys
import time
import uuid
from pathlib import Path

from mcp.types import ImageContent

from agent.browser import grammar
from tests.harness import HeldMcpSession, wait_until
from tests.mcp.conftest import CLIENT_MARKER, stdio_transport
from tests.processes import processes_of

# Playwright MCP 0.0.83's required arguments (tools/list of npm @playwright/mcp), which ours
# must match so that calls written for it work unchanged. Its browser_take_screenshot lists
# "scale" as required only because its schema generator marks a defaulted field so; it accepts
# calls without it, and so do we.
PLAYWRIGHT_MCP_REQUIRED: dict[str, set[str]] = {
    "browser_navigate": {"url"},
    "browser_navigate_back": set(),
    "browser_snapshot": set(),
    "browser_click": {"target"},
    "browser_type": {"target", "text"},
    "browser_fill_form": {"fields"},
    "browser_press_key": {"key"},
    "browser_hover": {"target"},
    "browser_select_option": {"target", "values"},
    "browser_wait_for": set(),
    "browser_take_screenshot": set(),
    "browser_tabs": {"action"},
    "browser_evaluate": {"function"},
    "browser_handle_dialog": {"accept"},
    "browser_close": set(),
}
# Every argument Playwright MCP 0.0.83 accepts, but "filename" (write the result to a file on
# the server) and "boxes" (bounding boxes), which we do not offer.
PLAYWRIGHT_MCP_ARGUMENTS: dict[str, set[str]] = {
    "browser_navigate": {"url"},
    "browser_snapshot": {"target", "depth"},
    "browser_click": {"element", "target", "doubleClick", "button", "modifiers"},
    "browser_type": {"element", "target", "text", "submit", "slowly"},
    "browser_fill_form": {"fields"},
    "browser_press_key": {"key"},
    "browser_hover": {"element", "target"},
    "browser_select_option": {"element", "target", "values"},
    "browser_wait_for": {"time", "text", "textGone"},
    "browser_take_screenshot": {"element", "target", "type", "fullPage", "scale"},
    "browser_tabs": {"action", "index", "url"},
    "browser_evaluate": {"element", "target", "function"},
    "browser_handle_dialog": {"accept", "promptText"},
}


async def test_lists_playwright_mcp_tools_with_their_arguments(stdio: HeldMcpSession) -> None:
    assert stdio.session is not None
    tools = {tool.name: tool for tool in (await stdio.session.list_tools()).tools}
    assert {"scrape", "interact", "stop_interaction"} <= set(tools)
    for name, required in PLAYWRIGHT_MCP_REQUIRED.items():
        schema = tools[name].input_schema
        assert set(schema.get("required", [])) == required, name
        assert schema.get("additionalProperties") is False, name
        assert "$ref" not in str(schema) and "$defs" not in schema, name
        properties = set(schema["properties"])
        assert PLAYWRIGHT_MCP_ARGUMENTS.get(name, set()) <= properties, name
        assert "session_id" in properties, f"{name} cannot act on a scraped session"
    field = tools["browser_fill_form"].input_schema["properties"]["fields"]["items"]
    assert set(field["required"]) == {"target", "name", "type", "value"}
    snapshot = tools["browser_snapshot"].input_schema["properties"]
    assert {"mode", "max_tokens", "page"} <= set(snapshot)
    assert tools["browser_snapshot"].annotations is not None
    assert tools["browser_snapshot"].annotations.read_only_hint is True


async def test_navigate_snapshot_type_click_read(stdio: HeldMcpSession, site: str) -> None:
    opened = await stdio.text("browser_navigate", url=f"{site}/index.html")
    assert f"{site}/index.html" in opened and "'Signup'" in opened
    shot = await stdio.text("browser_snapshot")
    name = grammar.find_ref(shot, "textbox", "Name")
    size = grammar.find_ref(shot, "combobox", "Size")
    agree = grammar.find_ref(shot, "checkbox", "I agree")
    greet = grammar.find_ref(shot, "button", "Greet")
    assert name and size and agree and greet, shot

    typed = await stdio.text("browser_type", target=name, text="Ada", element="Name field")
    assert typed.startswith(f"filled {name}") and "'Ada'" in typed
    filled = await stdio.text(
        "browser_fill_form",
        fields=[
            {"target": size, "name": "Size", "type": "combobox", "value": "Medium"},
            {"target": agree, "name": "I agree", "type": "checkbox", "value": "true"},
        ],
    )
    assert "selected 'Medium'" in filled and f"checked {agree}" in filled
    assert f'{agree} checkbox "I agree" [checked]' in await stdio.text("browser_snapshot")
    clicked = await stdio.text("browser_click", target=greet)
    # An action answers in a line, never with a snapshot of the page.
    assert clicked == f'clicked {greet} button "Greet"'
    assert await stdio.text("browser_get_text", target="#out") == "Hello Ada, size Medium"
    changes = await stdio.text("browser_snapshot", mode="changes")
    assert changes.splitlines()[1:] == [
        "changes since your last snapshot: 1 line(s) added, 1 removed",
        "- Nothing yet",
        "+ Hello Ada, size Medium",
    ]

    moved = await stdio.text("browser_click", target=grammar.find_ref(shot, "link", "Second page"))
    assert f"the page navigated to {site}/second.html" in moved
    assert "Reached the second page." in await stdio.text("browser_get_text")
    assert "went back" in await stdio.text("browser_navigate_back")


async def test_model_fixable_failures_are_error_results(stdio: HeldMcpSession, site: str) -> None:
    await stdio.text("browser_navigate", url=f"{site}/index.html")
    shot = await stdio.text("browser_snapshot")
    vanish = grammar.find_ref(shot, "button", "Vanish")
    locked = grammar.find_ref(shot, "button", "Locked")
    assert vanish and locked, shot
    assert "clicked" in await stdio.text("browser_click", target=vanish)
    stale = await stdio.error("browser_click", target=vanish)
    assert stale.startswith(f"stale ref {vanish}") and "snapshot" in stale
    assert "is disabled" in await stdio.error("browser_click", target=locked)
    ambiguous = await stdio.error("browser_click", target="button")
    assert "matches 3 elements" in ambiguous and "Use a ref" in ambiguous
    assert "Invalid arguments for browser_click" in await stdio.error("browser_click", ref=vanish)
    await stdio.text("browser_navigate", url=f"{site}/second.html")
    gone = await stdio.error("browser_click", target=locked)
    assert "stale ref" in gone and "navigated" in gone


async def test_dialog_blocks_until_answered(stdio: HeldMcpSession, site: str) -> None:
    await stdio.text("browser_navigate", url=f"{site}/index.html")
    ask = grammar.find_ref(await stdio.text("browser_snapshot"), "button", "Ask")
    assert ask
    opened = await stdio.text("browser_click", target=ask)
    assert 'confirm dialog "Delete everything?"' in opened and "browser_handle_dialog" in opened
    assert "browser_handle_dialog" in await stdio.error("browser_snapshot")
    answered = await stdio.text("browser_handle_dialog", accept=False)
    assert answered == 'dismissed the confirm dialog "Delete everything?"'
    assert await stdio.text("browser_get_text", target="#out") == "Kept"
    assert "No dialog is open" in await stdio.error("browser_handle_dialog", accept=True)


async def test_screenshot_is_image_content(stdio: HeldMcpSession, site: str) -> None:
    await stdio.text("browser_navigate", url=f"{site}/index.html")
    result = await stdio.call("browser_take_screenshot")
    assert not result.is_error
    images = [c for c in result.content if isinstance(c, ImageContent)]
    assert len(images) == 1 and images[0].mime_type == "image/png"
    assert base64.b64decode(images[0].data).startswith(b"\x89PNG\r\n\x1a\n")


async def test_scraped_session_by_id_then_stopped(stdio: HeldMcpSession, site: str) -> None:
    scraped = await stdio.text("scrape", url=f"{site}/second.html", formats=["markdown", "links"])
    assert "# Second page" in scraped and f"{site}/index.html" in scraped
    session_id = scraped.split('session_id="', 1)[1].split('"', 1)[0]
    # The browser tools act on the scraped session, not on the default one.
    read = await stdio.text("browser_get_text", session_id=session_id)
    assert "Reached the second page." in read
    code = await stdio.text(
        "interact", session_id=session_id, code="await page.title()", language="python"
    )
    assert "## result\nSecond" in code
    failed = await stdio.error(
        "interact", session_id=session_id, code="raise SystemExit(3)", language="python"
    )
    assert "exit code 3" in failed
    assert "stopped session" in await stdio.text("stop_interaction", session_id=session_id)
    gone = await stdio.error("browser_snapshot", session_id=session_id)
    assert gone.startswith("SESSION_NOT_FOUND") and "stopped" in gone


async def test_closing_the_connection_closes_its_browsers(site: str) -> None:
    marker = uuid.uuid4().hex
    held = await HeldMcpSession(lambda: stdio_transport(marker)).start()
    try:
        await held.text("browser_navigate", url=f"{site}/index.html")
        await held.text("scrape", url=f"{site}/second.html")
        running = processes_of(CLIENT_MARKER, marker)
        assert any("chrom" in command for command in running.values()), running
    finally:
        await held.close()
    left = await _wait_for_exit(marker)
    assert not left, f"left running after the client closed: {left}"


async def test_sigterm_closes_its_browsers_too(site: str) -> None:
    """A client that gives up waiting sends SIGTERM (the SDK does, two seconds after closing
    stdin); Chromium runs in a process group of its own, so the server must close it itself."""
    marker = uuid.uuid4().hex
    held = await HeldMcpSession(lambda: stdio_transport(marker)).start()
    try:
        await held.text("browser_navigate", url=f"{site}/index.html")
        running = processes_of(CLIENT_MARKER, marker)
        server = [pid for pid, command in running.items() if command == sys.executable]
        assert len(server) == 1 and any("chrom" in c for c in running.values()), running
        os.kill(server[0], signal.SIGTERM)
        left = await _wait_for_exit(marker)
        assert not left, f"left running after SIGTERM: {left}"
    finally:
        await held.close()


async def _wait_for_exit(marker: str, timeout_s: float = 10) -> dict[int, str]:
    # A boxed browser carries none of its server's environment, the marker included: it is found
    # below the marked server process (and cannot outlive it: bwrap's --die-with-parent).
    deadline = time.monotonic() + timeout_s
    left = processes_of(CLIENT_MARKER, marker)
    while left and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        left = processes_of(CLIENT_MARKER, marker)
    return left


# -- the other Playwright MCP tools, each with an effect on a local page --------------------------


async def _widgets(held: HeldMcpSession, site: str) -> dict[str, str]:
    """The widgets page, freshly loaded; refs of its controls by name."""
    await held.text("browser_navigate", url=f"{site}/widgets.html")
    shot = await held.text("browser_snapshot", mode="interactive")
    wanted = {
        "Hover me": "button", "Color": "combobox", "Keys": "textbox",
        "Show later": "button", "Hide later": "button",
    }  # fmt: skip
    refs = {name: grammar.find_ref(shot, role, name) for name, role in wanted.items()}
    assert all(refs.values()), shot
    return {name: str(ref) for name, ref in refs.items()}


async def test_hover_select_option_and_press_key(stdio: HeldMcpSession, site: str) -> None:
    refs = await _widgets(stdio, site)
    hovered = await stdio.text("browser_hover", target=refs["Hover me"], element="Hover button")
    assert hovered == f'hovering over {refs["Hover me"]} button "Hover me"'
    assert await stdio.text("browser_get_text", target="#out") == "hovered"

    selected = await stdio.text("browser_select_option", target=refs["Color"], values=["Green"])
    assert selected.startswith(f"selected 'Green' in {refs['Color']}"), selected
    assert await stdio.text("browser_get_text", target="#out") == "color g"
    wrong = await stdio.error("browser_select_option", target=refs["Color"], values=["Purple"])
    assert "no option 'Purple'" in wrong and "'Red', 'Green', 'Blue'" in wrong

    await stdio.text("browser_click", target=refs["Keys"])  # the key goes where the focus is
    await stdio.text("browser_press_key", key="a")
    assert await stdio.text("browser_get_text", target="#out") == "key a"
    await stdio.text("browser_press_key", key="ArrowLeft")
    assert await stdio.text("browser_get_text", target="#out") == "key ArrowLeft"
    value = await stdio.text("browser_evaluate", function="() => document.activeElement.value")
    assert value == '"a"'


async def test_wait_for_text_to_appear_and_go_and_for_time(
    stdio: HeldMcpSession, site: str
) -> None:
    refs = await _widgets(stdio, site)
    await stdio.text("browser_click", target=refs["Show later"])  # shown 1.5 s later
    early = await stdio.error("browser_wait_for", text="Shown at last", timeout=0.3)
    assert "Waited 0.3 s for 'Shown at last' to appear; it did not" in early
    shown = await stdio.text("browser_wait_for", text="Shown at last", timeout=10)
    assert shown == "'Shown at last' is visible"
    assert "Shown at last" in await stdio.text("browser_get_text")

    await stdio.text("browser_click", target=refs["Hide later"])  # hidden 0.5 s later
    gone = await stdio.text("browser_wait_for", textGone="Shown at last", timeout=10)
    assert gone == "'Shown at last' is gone"
    assert await stdio.text("browser_evaluate", function="() => late.hidden") == "true"

    started = time.monotonic()
    assert await stdio.text("browser_wait_for", time=0.5) == "waited 0.5 s"
    assert time.monotonic() - started >= 0.5
    assert "needs time, text or textGone" in await stdio.error("browser_wait_for")


async def test_evaluate_on_the_page_and_on_an_element(stdio: HeldMcpSession, site: str) -> None:
    refs = await _widgets(stdio, site)
    assert await stdio.text("browser_evaluate", function="() => document.title") == '"Widgets"'
    changed = "() => { document.querySelector('#out').textContent = 'set'; return [1, 'two']; }"
    assert await stdio.text("browser_evaluate", function=changed) == '[1, "two"]'
    assert await stdio.text("browser_get_text", target="#out") == "set"
    on_element = await stdio.text(
        "browser_evaluate", function="(el) => el.id", target=refs["Hover me"], element="button"
    )
    assert on_element == '"hover"'
    failed = await stdio.error("browser_evaluate", function="() => { throw new Error('boom'); }")
    assert failed.startswith("The function failed") and "boom" in failed


async def test_tabs_list_new_select_close(stdio: HeldMcpSession, site: str) -> None:
    await stdio.text("browser_navigate", url=f"{site}/widgets.html")
    while len((await stdio.text("browser_tabs", action="list")).splitlines()) > 1:
        await stdio.text("browser_tabs", action="close", index=1)  # another test's tabs
    assert await stdio.text("browser_tabs", action="list") == (
        f'0 (current): {site}/widgets.html "Widgets"'
    )

    opened = await stdio.text("browser_tabs", action="new", url=f"{site}/second.html")
    assert opened.startswith("opened a new tab, now the current one") and "second.html" in opened
    assert await stdio.text("browser_tabs", action="list") == (
        f'0: {site}/widgets.html "Widgets"\n1 (current): {site}/second.html "Second"'
    )
    assert "Reached the second page." in await stdio.text("browser_get_text")  # the new tab

    selected = await stdio.text("browser_tabs", action="select", index=0)
    assert selected == f'selected tab 0: {site}/widgets.html "Widgets"'
    assert await stdio.text("browser_get_text", target="h1") == "Widgets"
    assert "There is no tab 5" in await stdio.error("browser_tabs", action="select", index=5)

    closed = await stdio.text("browser_tabs", action="close", index=1)
    assert closed == f"closed tab 1; now on {site}/widgets.html"
    assert await stdio.text("browser_tabs", action="list") == (
        f'0 (current): {site}/widgets.html "Widgets"'
    )
    # Closing the last tab leaves the session a blank one to act on.
    assert await stdio.text("browser_tabs", action="close") == "closed tab 0; now on about:blank"
    assert await stdio.text("browser_tabs", action="list") == '0 (current): about:blank ""'


async def test_browser_close_ends_the_browser_and_the_next_call_opens_one(site: str) -> None:
    marker = uuid.uuid4().hex
    held = await HeldMcpSession(lambda: stdio_transport(marker)).start()
    try:
        await held.text("browser_navigate", url=f"{site}/widgets.html")
        await held.text("browser_evaluate", function="() => { window.mark = 'kept'; }")
        (browser,) = _browsers(marker)
        closed = await held.text("browser_close")
        assert closed.startswith("closed the browser of session ")
        wait_until(lambda: browser not in _browsers(marker), timeout_s=15)
        # A fresh default browser: a blank page, none of the old page's state.
        fresh = await held.text("browser_evaluate", function="() => window.mark ?? 'none'")
        assert fresh == '"none"'
        assert await held.text("browser_tabs", action="list") == '0 (current): about:blank ""'
        assert len(_browsers(marker)) == 1

        scraped = await held.text("scrape", url=f"{site}/second.html")
        session_id = scraped.split('session_id="', 1)[1].split('"', 1)[0]
        assert await held.text("browser_close", session_id=session_id) == (
            f"closed the browser of session {session_id}"
        )
        gone = await held.error("browser_snapshot", session_id=session_id)
        assert gone.startswith("SESSION_NOT_FOUND")
        assert len(_browsers(marker)) == 1  # the default browser, untouched
    finally:
        await held.close()


def _browsers(marker: str) -> set[int]:
    """The Chromium browser processes (not their helpers) of one ``agent mcp`` process."""
    running = processes_of(CLIENT_MARKER, marker)
    return {
        pid
        for pid, command in running.items()
        if Path(command).name in ("chromium", "chrome", "headless_shell")  # not its helpers
    }
