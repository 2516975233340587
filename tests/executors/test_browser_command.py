"""``agent browser``: every command on a local page, through the RPC client and through real
bash code, with the planner's own refs, and the one-line reasons of failures."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from agent.browser import grammar
from agent.browser.grammar import compact as compact_snapshot
from agent.browser.session import BrowserSession
from agent.cli import build_parser as build_agent_parser
from agent.executors import browser_cli, executors_for, run_code
from agent.executors.bash import CLIENT_SCRIPT
from tools import ToolContext, default_toolbox

toolbox = default_toolbox()


async def cli(session: BrowserSession, *argv: str) -> tuple[int, str]:
    """Run ``agent browser ARGV`` through the client's parser and the session's RPC server."""
    async with executors_for(session).browser_access() as (socket_path, token):
        return await asyncio.to_thread(
            browser_cli.execute, ["--socket", socket_path, f"--token={token}", *argv]
        )


async def ok(session: BrowserSession, *argv: str) -> str:
    code, text = await cli(session, *argv)
    assert code == 0, text
    return text


async def fails(session: BrowserSession, *argv: str) -> str:
    code, text = await cli(session, *argv)
    assert code == 1, text
    assert "\n" not in text and text.startswith(f"agent browser {argv[0]}: ")
    return text


def ref_in(snapshot: str, fragment: str) -> str:
    return next(
        line.ref for line in grammar.ref_lines(snapshot) if fragment in line.text and line.ref
    )


async def out_text(session: BrowserSession) -> str:
    return await session.page.inner_text("#out")


# -- bash, with the planner's refs ---------------------------------------------------------------


async def test_bash_uses_the_planners_refs(session, app):
    planner = (await session.snapshot(mode="interactive")).text
    count = ref_in(planner, 'button "Count"')
    outcome = await run_code(
        session, f"agent browser snapshot -i\nagent browser click {count}", "bash"
    )
    assert outcome.success, outcome
    assert planner in outcome.stdout  # the same refs, the same lines
    assert f'clicked {count} button "Count"' in outcome.stdout
    assert await session.page.inner_text("#counter") == "Clicked 1"
    # ... and the planner goes on with the same refs.
    again = await toolbox.call(ToolContext(session), "click", {"ref": count})
    assert not again.is_error and await session.page.inner_text("#counter") == "Clicked 2"


async def test_a_form_filled_by_a_bash_script(session, app):
    script = """
    set -e
    snap=$(agent browser snapshot -i)
    ref() { echo "$snap" | grep "$1" | grep -o '@e[0-9]*'; }
    agent browser fill "$(ref 'textbox "Name"')" "Ada"
    agent browser check "$(ref 'checkbox "I agree"')"
    agent browser select "$(ref 'combobox "Size"')" Large
    agent browser click "$(ref 'button "Save"')"
    agent browser get text '#out'
    agent browser click @e99999 || echo "exit $?"
    """
    outcome = await run_code(session, script, "bash", timeout_s=30)
    assert outcome.success, outcome
    assert "Saved Ada / l / agreed\n" in outcome.stdout
    assert "exit 1" in outcome.stdout
    assert "agent browser click: @e99999 was never in a snapshot" in outcome.stderr


def test_without_a_session_the_client_says_so():
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_SESSION_")}
    # As the bash executor's `agent` shim runs it: by path, without site-packages.
    done = subprocess.run(
        [sys.executable, "-I", "-S", str(CLIENT_SCRIPT), "get", "title"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 3
    assert done.stderr.count("\n") == 1 and "AGENT_SESSION_SOCKET" in done.stderr


def test_registered_in_the_agent_command_line():
    args = build_agent_parser().parse_args(
        ["browser", "find", "role", "button", "click", "--name", "Go"]
    )
    assert args.command == "browser" and args.browser_command == "find" and args.handler
    args = build_agent_parser().parse_args(["browser", "goto", "http://x"])
    assert args.browser_command == "open"


# -- every command -------------------------------------------------------------------------------


async def test_snapshot_options(session, app):
    full = await ok(session, "snapshot")
    interactive = await ok(session, "snapshot", "-i")
    assert "# Orders" in full and "# Orders" not in interactive
    assert 'button "Save"' in interactive
    compact = await ok(session, "snapshot", "-c")
    assert compact == compact_snapshot(full) and len(compact) <= len(full)
    assert (
        compact_snapshot('main\n  @e1 button "Go"\n  list\n\n  hello')
        == '  @e1 button "Go"\n  hello'
    )
    assert 'link "All orders"' in full
    shallow = await ok(session, "snapshot", "-d", "0")
    assert 'navigation "Sections"' in shallow and "All orders" not in shallow
    scoped = await ok(session, "snapshot", "-s", "#order")
    assert 'textbox "Name"' in scoped and '"Count"' not in scoped
    assert "No element matches" in await fails(session, "snapshot", "-s", "#missing")


async def test_click_dblclick_hover_by_ref_and_by_css(session, app):
    refs = await ok(session, "snapshot", "-i")
    assert (await ok(session, "click", ref_in(refs, '"Count"'))).startswith("clicked @e")
    assert await ok(session, "click", "#counter") == "clicked #counter"
    assert await session.page.inner_text("#counter") == "Clicked 2"
    await ok(session, "dblclick", "#counter")
    assert await out_text(session) == "double"
    await ok(session, "hover", ref_in(refs, '"Hover me"'))
    assert await out_text(session) == "hovered"
    await session.page.evaluate("document.querySelector('#out').textContent = ''")
    await ok(session, "hover", "#hoverme")
    assert await out_text(session) == "hovered"


async def test_fill_type_press_select_check(session, app):
    refs = await ok(session, "snapshot", "-i")
    name = ref_in(refs, 'textbox "Name"')
    await ok(session, "fill", name, "Gr")
    await ok(session, "type", name, "ace")
    assert await ok(session, "get", "value", "#name") == "Grace"
    await ok(session, "fill", "#name", "Al")
    assert await ok(session, "type", "#name", "an") == "typed 'an' into #name"
    assert await ok(session, "get", "value", name) == "Alan"
    await ok(session, "select", "#size", "Large")
    assert await ok(session, "get", "value", "#size") == "l"
    await ok(session, "select", ref_in(refs, 'combobox "Size"'), "Small")
    assert await ok(session, "get", "value", "#size") == "s"
    await ok(session, "check", "#agree")
    assert await ok(session, "is", "checked", "#agree") == "true"
    await ok(session, "uncheck", ref_in(refs, 'checkbox "I agree"'))
    assert await ok(session, "is", "checked", "#agree") == "false"
    await ok(session, "check", ref_in(refs, 'checkbox "I agree"'))
    await ok(session, "press", "Enter", name)
    assert await out_text(session) == "Saved Alan / s / agreed"
    await ok(session, "fill", "#name", "Bo")
    await ok(session, "press", "Enter", "#name")
    assert await out_text(session) == "Saved Bo / s / agreed"
    await ok(session, "press", "Tab")


async def test_scroll_and_scrollintoview(session, app):
    await ok(session, "scroll", "down", "300")
    assert await ok(session, "eval", "window.scrollY") == "300"
    await ok(session, "scroll", "up")
    assert await ok(session, "eval", "window.scrollY") == "0"
    await ok(session, "scroll", "down", "200", "--selector", "#box")
    assert await ok(session, "eval", "document.querySelector('#box').scrollTop") == "200"
    await ok(session, "scrollintoview", "#bottom")
    in_view = "document.querySelector('#bottom').getBoundingClientRect().top < innerHeight"
    assert await ok(session, "eval", in_view) == "true"


async def test_get_and_is(session, app):
    assert await ok(session, "get", "title") == "Orders"
    assert (await ok(session, "get", "url")).endswith("/app.html")
    assert await ok(session, "get", "count", "button") == str(
        await session.page.locator("button").count()
    )
    assert await ok(session, "get", "count", ".nothing") == "0"
    assert "<input" in await ok(session, "get", "html", "#order")
    assert await ok(session, "get", "attr", "#name", "placeholder") == "Your name"
    assert await ok(session, "get", "attr", "#name", "missing") == ""
    assert "Orders" in await ok(session, "get", "text")
    assert await ok(session, "get", "text", "h1") == "Orders"
    refs = await ok(session, "snapshot", "-i")
    assert await ok(session, "get", "text", ref_in(refs, '"Save"')) == "Save"
    assert await ok(session, "get", "count", ref_in(refs, '"Save"')) == "1"
    assert await ok(session, "is", "visible", "#name") == "true"
    assert await ok(session, "is", "visible", "#hidden") == "false"
    assert await ok(session, "is", "visible", "#absent") == "false"
    assert await ok(session, "is", "enabled", "#locked") == "false"
    assert await ok(session, "is", "enabled", ref_in(refs, '"Save"')) == "true"
    assert "needs a target" in await fails(session, "get", "value")


async def test_find(session, app):
    await ok(session, "find", "role", "button", "click", "--name", "Count")
    assert await session.page.inner_text("#counter") == "Clicked 1"
    await ok(session, "find", "label", "Name", "fill", "Zed")
    assert await ok(session, "get", "value", "#name") == "Zed"
    await ok(session, "find", "placeholder", "Your name", "type", "a")
    assert await ok(session, "get", "value", "#name") == "Zeda"
    assert await ok(session, "find", "role", "heading", "text") == "Orders"
    assert "no element found" in await fails(session, "find", "text", "Nowhere", "click")
    await ok(session, "find", "text", "Next page", "click")
    assert session.page.url.endswith("/page2.html")


async def test_wait(session, app):
    assert await ok(session, "wait", "50") == "waited 50 ms"
    late = """setTimeout(() => {
        const p = document.createElement('p'); p.id = 'late'; p.textContent = 'Arrived late';
        document.body.prepend(p);
    }, 300)"""
    await ok(session, "eval", late)
    assert "is visible" in await ok(session, "wait", "#late")
    assert "Arrived late" in await ok(session, "wait", "--text", "Arrived late")
    assert "load" in await ok(session, "wait", "--load", "load")
    assert "did not happen" in await fails(session, "wait", "--text", "Never", "--timeout", "300")
    await ok(session, "eval", "setTimeout(() => { location.href = 'page2.html' }, 200)")
    assert (await ok(session, "wait", "--url", "page2")).endswith("/page2.html")
    assert (await ok(session, "wait", "--url", "**/page2.html")).endswith("/page2.html")
    assert "URL to match" in await fails(session, "wait", "--url", "nowhere", "--timeout", "200")
    refs = await ok(session, "snapshot", "-i")
    assert "is visible" in await ok(session, "wait", ref_in(refs, "link"))


async def test_eval_and_screenshot(session, app, tmp_path):
    assert await ok(session, "eval", "document.title") == "Orders"
    assert await ok(session, "eval", "({a: 1, b: [true, null]})") == '{"a": 1, "b": [true, null]}'
    assert await ok(session, "eval", "undefined") == ""
    assert "JavaScript failed" in await fails(session, "eval", "nope.nope")
    target = tmp_path / "shot.png"
    assert await ok(session, "screenshot", str(target)) == str(target)
    assert _png_size(str(target)) > 1000
    default = await ok(session, "screenshot", "--full")
    assert default.endswith(".png") and _png_size(default) > 1000


def _png_size(path: str) -> int:
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return len(data)


async def test_open_back_forward_reload(session, app, site):
    assert "title 'Second'" in await ok(session, "open", f"{site}/page2.html")
    assert (await ok(session, "back")).endswith("/app.html")
    assert (await ok(session, "forward")).endswith("/page2.html")
    assert "no next page" in await fails(session, "forward")
    assert (await ok(session, "reload")).endswith("/page2.html")
    assert "title 'Orders'" in await ok(session, "goto", "app.html")


async def test_tabs(session, app, site):
    assert (await ok(session, "tab", "list")).startswith("* t")
    first = (await ok(session, "tab")).split()[1]
    opened = await ok(session, "tab", "new", f"{site}/page2.html")
    second = opened.split()[2].rstrip(":")
    assert session.page.url.endswith("/page2.html")
    listing = await ok(session, "tab", "list")
    assert f"* {second} 'Second'" in listing and f"  {first} 'Orders'" in listing
    assert (await ok(session, "tab", first)).endswith("/app.html")
    assert session.page.url.endswith("/app.html")
    assert (await run_code(session, "await page.title()", "python")).result == "Orders"
    assert "no tab 't999'" in await fails(session, "tab", "t999")
    await ok(session, "tab", second)
    assert first in await ok(session, "tab", "close")
    assert session.page.url.endswith("/app.html")
    assert "only tab" in await fails(session, "tab", "close")


# -- failures the script can act on --------------------------------------------------------------


async def test_failures_are_one_line_reasons(session, app):
    refs = await ok(session, "snapshot", "-i")
    save = ref_in(refs, '"Save"')
    assert "covered" in await fails(session, "click", "#under")
    assert "covered" in await fails(session, "click", ref_in(refs, '"Under"'))
    assert "disabled" in await fails(session, "click", "#locked")
    assert "No element matches the CSS selector '#nope'" in await fails(session, "click", "#nope")
    assert "not a valid CSS selector" in await fails(session, "click", "[[[")
    assert "never in a snapshot" in await fails(session, "click", "@e99999")
    await ok(session, "reload")
    assert "stale ref" in await fails(session, "click", save)
    assert "stale ref" in await fails(session, "get", "text", save)


async def test_commands_are_refused_after_the_run(session, app):
    state = executors_for(session)
    async with state.browser_access() as (socket_path, token):
        pass
    code, text = await asyncio.to_thread(
        browser_cli.execute, ["--socket", socket_path, "--token", token, "get", "title"]
    )
    assert code == 1 and "not allowed" in text
    code, text = await asyncio.to_thread(
        browser_cli.execute, ["--socket", socket_path, "--token", "guess", "get", "title"]
    )
    assert code == 1 and "not allowed" in text
