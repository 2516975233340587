"""Running a DevTools attack from each kind of client: python, node and bash code in a session's
sandbox (bash over the box's ``127.0.0.1:9222``, with ``python3``), and from outside, a raw
WebSocket and Playwright holding the session's ``cdpUrl``. The attacks themselves are in
``cdp_nested.py`` (Python) and ``js/cdp_nested.js`` (node code)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from playwright.async_api import async_playwright

from tests.harness import RunningServer
from tests.reliability import cdp_nested
from tests.reliability.test_reliability_sandbox import run

__all__ = ["CLIENTS", "bash_call", "from_code", "from_outside", "nested_attack", "python_call"]

HERE = Path(__file__).parent
NESTED_PY = (HERE / "cdp_nested.py").read_text()
NESTED_JS = (HERE / "js" / "cdp_nested.js").read_text()
BOX_CDP = "ws://127.0.0.1:9222/devtools/browser"
CLIENTS = ["python", "node", "bash", "websocket", "playwright"]


def python_call(call: str) -> str:
    """Python code for the session: this helper's source, then ``call`` on Playwright's CDP."""
    return (
        NESTED_PY
        + "\ncdp = await page.context.browser.new_browser_cdp_session()\n"
        + "send, events = await over_playwright(cdp)\n"
        + f"json.dumps(await {call})\n"
    )


def bash_call(call: str) -> str:
    """A bash script reaching the box's DevTools port with python3 and a raw WebSocket."""
    return (
        "python3 - <<'PY'\n" + NESTED_PY + "\nasync def main():\n"
        f"    send, events, connection = await over_websocket({BOX_CDP!r})\n"
        f"    print(json.dumps(await {call}))\n"
        "    await connection.close()\n"
        "asyncio.run(main())\nPY\n"
    )


def from_code(served: RunningServer, scrape_id: str, language: str, code: str) -> Any:
    reply = run(served, scrape_id, code, language, timeout=90)
    assert reply["success"], reply
    said = reply["stdout"] if language == "bash" else reply["result"]
    return json.loads(said.strip().splitlines()[-1])


async def from_outside(
    cdp_url: str, client: str, attack: Callable[..., Awaitable[Any]], **kwargs: Any
) -> Any:
    if client == "websocket":
        send, events, connection = await cdp_nested.over_websocket(cdp_url)
        try:
            return await attack(send, events, **kwargs)
        finally:
            await connection.close()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.connect_over_cdp(cdp_url)
        try:
            cdp = await browser.new_browser_cdp_session()
            send, events = await cdp_nested.over_playwright(cdp)
            return await attack(send, events, **kwargs)
        finally:
            await browser.close()


def nested_attack(
    served: RunningServer, session: tuple[str, str], client: str, **kwargs: Any
) -> dict[str, Any]:
    scrape_id, cdp_url = session
    arguments = ", ".join(f"{name}={value!r}" for name, value in kwargs.items())
    call = f"attack(send, events, {arguments})"
    if client == "python":
        return dict(from_code(served, scrape_id, "python", python_call(call)))
    if client == "bash":
        return dict(from_code(served, scrape_id, "bash", bash_call(call)))
    if client == "node":
        code = NESTED_JS
        for name, value in [
            ("ON_PAGE", False),
            ("DEPTH", kwargs["depth"]), ("PAYLOAD", kwargs["payload"]),
            ("SECRET", kwargs["secret"]), ("DOWNLOAD_DIR", kwargs["download_dir"]),
            ("DOWNLOAD_JS", cdp_nested.DOWNLOAD_JS),
        ]:  # fmt: skip
            code = code.replace(name, json.dumps(value))
        return dict(from_code(served, scrape_id, "node", code))
    return dict(asyncio.run(from_outside(cdp_url, client, cdp_nested.attack, **kwargs)))
