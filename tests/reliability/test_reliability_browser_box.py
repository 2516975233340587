"""The browser box, attacked: a session's own browser, driven by its code (python, node, bash) or
by a client holding its ``cdpUrl``, tries to reach the machine it runs on.

The DevTools guard (``agent.browser.cdp_guard``) refuses most of these commands before they reach
Chromium. To show that the box holds where the guard would not (a command nobody foresaw, a hole
like issue 22's nested messages), every attack here runs with the guard switched off for this
module: the router's ``refusal`` is replaced by one that lets everything through. What stops the
attacks then is the box alone: Chromium in a mount namespace that holds only its own folders, a
PID namespace of its own, a user of its own without capabilities, and an environment of its own.

Then the memory limit: a page that allocates past ``AGENT_BROWSER_MEMORY_MB`` ends its session
with a 410 naming the limit, and another session goes on.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import async_playwright

from agent import procfs
from agent.browser import box_memory, cdp_router
from agent.server import ServerSettings
from tests.harness import RunningServer, assert_error, quick_agent_settings, wait_until
from tests.reliability.boxed import boxed_server, read_page_code, victim_session

SECRET = "sk-browser-box-test-5d1e9a7c3b2f4e60"
"""A credential in the server's own environment, as a model key would be."""
CLIENTS = ("python", "node", "bash", "cdpUrl")


@pytest.fixture
def guard_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """The DevTools guard lets every command through, for one test (see the docstring)."""
    monkeypatch.setattr(cdp_router, "refusal", lambda *args, **kwargs: None)


@pytest.fixture(scope="module")
def served(profiles_dir: Path) -> Iterator[RunningServer]:
    with boxed_server(profiles_dir, secret=SECRET) as server:
        yield server


@pytest.fixture(scope="module")
def victim(served: RunningServer, site: str, profiles_dir: Path) -> Iterator[dict[str, str]]:
    """Session B, with a saved profile, and what A's browser could aim at."""
    bob = victim_session(served, site)
    yield {
        "id": bob,
        "profiles": str(profiles_dir),
        "profile": str(profiles_dir / "bob.json"),
        "browser_folder": str(served.session(bob).browser_session.handle.user_data_dir),
    }
    served.stop_session(bob)


def run(served: RunningServer, session: str, code: str, language: str) -> dict[str, Any]:
    return served.run_code(session, code, language, timeout=60)


# -- reading the host through the browser ---------------------------------------------------------


async def _read_over_cdp(cdp_url: str, url: str) -> str:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.connect_over_cdp(cdp_url)
        try:
            page = browser.contexts[0].pages[0]
            try:
                await page.goto(url, timeout=10000)
            except Exception as exc:
                return f"could not: {exc}"
            return str(await page.evaluate("document.documentElement.innerText"))
        finally:
            await browser.close()  # over CDP this disconnects; the session's browser stays up


def read_through_browser(served: RunningServer, session: str, url: str, client: str) -> str:
    """What the session's browser shows at ``url``, driven by ``client``."""
    if client == "cdpUrl":
        cdp_url = run(served, session, "1", "python")["cdpUrl"]
        return asyncio.run(_read_over_cdp(cdp_url, url))
    reply = run(served, session, read_page_code(client, url, 10000), client)
    return str(reply["stdout"] if client == "bash" else reply["result"])


REPO = Path(__file__).resolve().parents[2]

TARGETS: dict[str, tuple[str, Callable[[str], bool]]] = {
    # name: (URL, whether what the browser showed is a breach). /proc is no target: Chromium
    # shows its files (size 0) as empty, box or not; the host-side tests below cover it.
    "a root-only host file": ("file:///etc/shadow", lambda text: "root:" in text),
    "the profiles folder's listing": ("file://PROFILES/", lambda text: "bob.json" in text),
    "another session's saved profile": ("file://PROFILE", lambda text: '"cookies"' in text),
    "another session's browser folder": (
        "file://BROWSER_FOLDER/",
        lambda text: "Local State" in text or "Default" in text,
    ),
    "the server's own code": (
        f"file://{REPO}/agent/config.py",
        lambda text: "class Settings(BaseSettings)" in text,
    ),
    "the server's home folder": (
        f"file://{Path.home()}/",
        lambda text: any(entry in text for entry in _visible_entries(Path.home())),
    ),
}


def _visible_entries(folder: Path) -> list[str]:
    return [entry.name for entry in folder.iterdir() if len(entry.name) > 4][:20]


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("target", list(TARGETS))
@pytest.mark.usefixtures("guard_off")
def test_the_box_keeps_the_browser_from_the_host(
    served: RunningServer, victim: dict[str, str], attacker: str, target: str, client: str
) -> None:
    url, breached = TARGETS[target]
    for name in ("PROFILES", "PROFILE", "BROWSER_FOLDER"):
        url = url.replace(name, victim[name.lower()])
    shown = read_through_browser(served, attacker, url, client)
    assert not breached(shown), f"BREACH: {target} via {client}: {shown[:300]}"
    # A's browser is still usable, and so is B's session.
    assert run(served, attacker, "1 + 1", "python")["result"] == "2"
    assert run(served, victim["id"], "await page.title()", "python")["success"]


def test_the_boxed_browser_runs_as_a_user_of_its_own_without_capabilities(
    served: RunningServer, attacker: str
) -> None:
    """Seen from the host: every process of the box runs as a box user; none holds a capability
    in the host's user namespace (Chromium's own sandbox gives its zygote CAP_SYS_ADMIN inside a
    user namespace of its own, which is no power over the host)."""
    handle = served.session(attacker).browser_session.handle
    assert handle.box is not None, "the session's browser is not boxed"
    host_users = procfs.namespace(kind="user")
    seen = 0
    for pid in procfs.tree(handle.pid):
        fields, argv = procfs.status(pid), procfs.cmdline(pid)
        users = procfs.namespace(pid, "user")
        if fields is None or not argv or users is None:
            continue
        command = argv[0].decode()
        if "chromium" not in command and "chrome" not in command:
            continue  # bwrap itself, which runs as root without capabilities and then waits
        seen += 1
        assert fields["Uid"].split()[0] != "0", (command, fields["Uid"])
        if users == host_users:
            assert int(fields["CapEff"], 16) == 0, (command, fields["CapEff"])
            assert int(fields["CapPrm"], 16) == 0, (command, fields["CapPrm"])
    assert seen >= 2


def test_the_boxed_browser_has_none_of_the_servers_environment(
    served: RunningServer, attacker: str
) -> None:
    """Seen from the host (a page cannot read /proc through file://, see above): no process of
    the box holds the server's environment, the key in it included."""
    handle = served.session(attacker).browser_session.handle
    environments = [b"\0".join(procfs.environ(pid) or []) for pid in procfs.tree(handle.pid)]
    assert any(b"HOME=" in environ for environ in environments)
    for environ in environments:
        assert SECRET.encode() not in environ
        assert b"AGENT_TEST_MODEL_KEY" not in environ


# -- downloads ------------------------------------------------------------------------------------

DOWNLOAD = {
    "python": """
import asyncio
cdp = await page.context.browser.new_browser_cdp_session()
await cdp.send("Browser.setDownloadBehavior",
               {"behavior": "allow", "downloadPath": TARGET, "eventsEnabled": True})
done = asyncio.get_running_loop().create_future()
def progress(event):
    if event["state"] != "inProgress" and not done.done():
        done.set_result(event["state"])
cdp.on("Browser.downloadProgress", progress)
await page.evaluate(CLICK)
await asyncio.wait_for(done, 15)
""",
    "node": """
const cdp = await page.context().browser().newBrowserCDPSession();
await cdp.send("Browser.setDownloadBehavior",
               {behavior: "allow", downloadPath: TARGET, eventsEnabled: true});
const done = new Promise((resolve) => cdp.on("Browser.downloadProgress", (event) => {
  if (event.state !== "inProgress") resolve(event.state);
}));
await page.evaluate("(" + CLICK + ")()");  // a string is an expression to Node's Playwright
await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 15000))]);
""",
}
CLICK = """() => {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob(["planted"]));
  a.download = "planted.txt";
  document.body.append(a); a.click(); a.remove();
}"""


async def _download_over_cdp(cdp_url: str, target: str) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.connect_over_cdp(cdp_url)
        try:
            cdp = await browser.new_browser_cdp_session()
            await cdp.send(
                "Browser.setDownloadBehavior",
                {"behavior": "allow", "downloadPath": target, "eventsEnabled": True},
            )
            done: asyncio.Future[str] = asyncio.get_running_loop().create_future()

            def progress(event: dict[str, Any]) -> None:
                if event["state"] != "inProgress" and not done.done():
                    done.set_result(event["state"])

            cdp.on("Browser.downloadProgress", progress)
            await browser.contexts[0].pages[0].evaluate(CLICK)
            await asyncio.wait_for(done, 15)
        finally:
            await browser.close()


@pytest.mark.parametrize("client", ["python", "node", "cdpUrl"])
@pytest.mark.usefixtures("guard_off")
def test_a_download_cannot_land_outside_the_box(
    served: RunningServer, attacker: str, site: str, tmp_path: Path, client: str
) -> None:
    """With nothing rewriting the download folder (the guard is off), Chromium writes where it
    was told, inside its box: the host folder of that name stays empty."""
    target = tmp_path / "chosen-by-the-attacker"
    target.mkdir()
    target.chmod(0o777)
    run(served, attacker, f"await page.goto({json.dumps(site + '/page')})", "python")
    if client == "cdpUrl":
        cdp_url = run(served, attacker, "1", "python")["cdpUrl"]
        asyncio.run(_download_over_cdp(cdp_url, str(target)))
    else:
        code = DOWNLOAD[client].replace("TARGET", json.dumps(str(target)))
        run(served, attacker, code.replace("CLICK", json.dumps(CLICK)), client)
    assert list(target.iterdir()) == [], "BREACH: the download landed on the host"


def test_a_download_lands_in_the_sessions_downloads_folder(profiles_dir: Path, site: str) -> None:
    """With the guard on, as it is outside this module's attacks, a download goes to the box's
    own downloads folder, which the server can read."""
    with RunningServer(
        ServerSettings(profiles_dir=profiles_dir, warm_browsers=0),
        agent_settings=quick_agent_settings(),
        count_launches=False,
    ) as server:
        session = server.scrape_id(f"{site}/page")
        code = DOWNLOAD["python"].replace("TARGET", json.dumps("/anywhere"))
        reply = run(server, session, code.replace("CLICK", json.dumps(CLICK)), "python")
        assert reply["success"], reply
        box = server.session(session).browser_session.handle.box
        assert box is not None
        assert (box.downloads / "planted.txt").read_text() == "planted"


# -- memory ---------------------------------------------------------------------------------------

ALLOCATE = """
try:
    await page.evaluate('''() => {
      window.held = [];
      for (let i = 0; i < 64; i++) {
        const block = new Uint8Array(32 * 1024 * 1024);
        block.fill(7);
        window.held.push(block);
      }
      return window.held.length;
    }''')
except Exception as exc:
    print("the page died:", exc)
"""


@pytest.mark.parametrize("guard", ["cgroup", "watchdog"])
def test_a_browser_past_its_memory_limit_ends_its_session_only(
    profiles_dir: Path, site: str, guard: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cgroup where this machine lets the server make one (the kernel kills, the server ends
    the browser at once), and the watchdog that stands in where it does not (the server finds the
    browser over within a second or so, and ends it)."""
    if guard == "watchdog":
        monkeypatch.setattr(box_memory, "_places", {"v1": None, "v2": None})
    else:
        probe = box_memory.memory_guard(700)
        probe.close()
        if probe.join_file is None:
            pytest.skip("this machine lets this process make no memory cgroup")
    with RunningServer(
        ServerSettings(profiles_dir=profiles_dir, warm_browsers=0),
        agent_settings=quick_agent_settings(browser_memory_mb=700),
        count_launches=False,
    ) as server:
        hungry = server.scrape_id(f"{site}/page")
        other = server.scrape_id(f"{site}/page")
        kind = server.session(hungry).browser_session.handle.box.memory.kind
        assert (kind == "watchdog") == (guard == "watchdog"), kind
        server.interact(hungry, code=ALLOCATE, language="python", timeout=60)
        if guard == "watchdog":
            wait_until(lambda: not server.registry.has(hungry) or _ended(server, hungry), 15)
        # That call may already answer 410; the next one must, naming the limit.
        body = assert_error(
            server.interact(hungry, code="1", language="python"), 410, "AGENT_BROWSER_MEMORY_MB"
        )
        assert "700 MiB" in body["error"], body
        assert run(server, other, "await page.title()", "python")["result"] == "Reliability page"
        assert len(server.registry) == 1


def _ended(server: RunningServer, session: str) -> bool:
    return server.session(session).browser_session.lost_reason is not None
