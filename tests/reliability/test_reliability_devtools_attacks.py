"""DevTools, attacked: a session's code and a client holding its ``cdpUrl`` try to walk around
the router's guard.

Each attack runs from every client that can send DevTools commands: python, node and bash code
in the session's sandbox (bash over the box's ``127.0.0.1:9222``, with ``python3``), and, from
outside, a raw WebSocket and Playwright holding the ``cdpUrl``. The attacks:

* **nested sessions**, one and two levels deep (``Target.attachToTarget`` with
  ``flatten: false``, then commands wrapped in ``Target.sendMessageToTarget``), each trying to
  open a server file in a new tab, hand a file input a server file, or write a download into a
  folder of its choosing;
* **methods off the allowlist**: ``SystemInfo.getProcessInfo``, ``Tethering.bind``,
  ``Browser.getBrowserCommandLine``.

The server file is the test's own, readable by the server's user only, with a marker no page
holds; every attack must be refused by the guard, leave the marker unread and the folder empty,
and leave the session working.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness import RunningServer
from tests.reliability import cdp_nested
from tests.reliability.boxed import boxed_server
from tests.reliability.devtools_clients import (
    CLIENTS,
    bash_call,
    from_code,
    from_outside,
    nested_attack,
    python_call,
)
from tests.reliability.test_reliability_sandbox import run

OFF_THE_LIST: dict[str, dict[str, Any]] = {
    "SystemInfo.getProcessInfo": {},
    "Tethering.bind": {"port": 9333},
    "Browser.getBrowserCommandLine": {},
}


@pytest.fixture(scope="module")
def served(profiles_dir: Path) -> Iterator[RunningServer]:
    with boxed_server(profiles_dir, sandbox_memory_mb=1024) as server:
        yield server


@pytest.fixture(scope="module")
def secret(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A file of the server's (mode 0600, in a folder of mode 0700) and the marker it holds."""
    folder = tmp_path_factory.mktemp("server-only")
    folder.chmod(0o700)
    marker = f"SERVER-SECRET-{secrets.token_hex(8)}"
    path = folder / "secret.txt"
    path.write_text(marker + "\n")
    path.chmod(0o600)
    return path, marker


@pytest.fixture
def scraped(served: RunningServer, site: str) -> Iterator[tuple[str, str]]:
    """A fresh session (attacks open tabs) and its cdpUrl."""
    scrape_id = served.scrape_id(f"{site}/page?set=attacker")
    cdp_url = run(served, scrape_id, "1", "python")["cdpUrl"]
    yield scrape_id, cdp_url
    served.stop_session(scrape_id)


# -- the rows ------------------------------------------------------------------------------------


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("payload", ["file", "upload", "download"])
@pytest.mark.parametrize("depth", [1, 2])
def test_nested_sessions_do_not_walk_around_the_guard(
    served: RunningServer,
    scraped: tuple[str, str],
    secret: tuple[Path, str],
    tmp_path: Path,
    client: str,
    payload: str,
    depth: int,
) -> None:
    path, marker = secret
    target = tmp_path / "chosen-by-the-attacker"
    target.mkdir()
    target.chmod(0o777)
    said = nested_attack(
        served,
        scraped,
        client,
        depth=depth,
        payload=payload,
        secret=str(path),
        download_dir=str(target),
    )
    assert marker not in json.dumps(said), f"BREACH: read the server's file: {said}"
    assert list(target.iterdir()) == [], f"BREACH: a download went where the client said: {said}"
    assert said["breach"] is None, f"BREACH: the nested session answered: {said}"
    assert "flatten: true only" in str(said["refused"]), said
    assert run(served, scraped[0], "await page.evaluate('1 + 1')", "python")["result"] == "2"


@pytest.mark.parametrize("client", CLIENTS)
def test_methods_off_the_allowlist_are_refused_naming_the_method(
    served: RunningServer, scraped: tuple[str, str], client: str
) -> None:
    methods = json.dumps(OFF_THE_LIST)
    call = f"refused_methods(send, json.loads({methods!r}))"
    scrape_id, cdp_url = scraped
    if client == "python":
        said = from_code(served, scrape_id, "python", python_call(call))
    elif client == "bash":
        said = from_code(served, scrape_id, "bash", bash_call(call))
    elif client == "node":
        code = f"""
const cdp = await page.context().browser().newBrowserCDPSession();
const said = {{}};
for (const [method, params] of Object.entries({methods})) {{
  try {{ await cdp.send(method, params); said[method] = "ANSWERED"; }}
  catch (error) {{ said[method] = String(error.message || error); }}
}}
JSON.stringify(said);
"""
        said = from_code(served, scrape_id, "node", code)
    else:

        async def refused(send: cdp_nested.Send, _events: Any) -> dict[str, str]:
            return await cdp_nested.refused_methods(send, OFF_THE_LIST)

        said = asyncio.run(from_outside(cdp_url, client, refused))
    assert set(said) == set(OFF_THE_LIST), said
    for method, answer in said.items():
        assert f"{method} is not allowed for this client" in answer, (method, answer)


# -- the clients we support still work: Playwright MCP over cdpUrl -------------------------------


@pytest.fixture(scope="module")
def playwright_mcp() -> Path:
    from evals.errors import EvalError
    from evals.mcp_servers import ensure_playwright_mcp

    try:
        return ensure_playwright_mcp()
    except EvalError as missing:
        pytest.skip(str(missing))


async def _snapshot_with_playwright_mcp(binary: Path, cdp_url: str, output: Path) -> str:
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    server = StdioServerParameters(
        command=str(binary),
        args=["--cdp-endpoint", cdp_url, "--output-dir", str(output)],
        cwd=str(output),
    )
    async with stdio_client(server) as (read, write), ClientSession(read, write) as client:
        await client.initialize()
        result = await client.call_tool("browser_snapshot", {})
        assert not result.is_error, result
        return "\n".join(getattr(part, "text", "") for part in result.content)


def test_playwright_mcp_drives_the_session_through_cdp_url(
    served: RunningServer, scraped: tuple[str, str], playwright_mcp: Path, tmp_path: Path
) -> None:
    """Playwright MCP attaches flat, like Playwright, Puppeteer and agent-browser (their tests
    are in test_reliability_sandbox.py and tests/executors): the guard lets it work."""
    seen = asyncio.run(_snapshot_with_playwright_mcp(playwright_mcp, scraped[1], tmp_path))
    assert "Reliability page" in seen, seen[:2000]
