"""JSON logs: ``agent serve --log-format json`` at debug level, its model behind the real
``openai`` SDK (a fake provider on loopback), driven through every kind of call (scrape with a
summary, code, a prompt, the cdpUrl and both live views, metrics, usage, a 401, a stop). Every
line it writes is one JSON object; request lines carry their request id (the client's own when
it is a sane token), key name, method, route, status and duration; and no key or token appears
in any line."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from playwright.async_api import async_playwright

from agent.service.keys import unnamed_key_name
from evals.provider_server import FakeProviderServer, chat_completion, chat_tool_call
from tests.subprocesses import agent_serve_logged

NAMED_KEY = "json-log-key-6d2b8e4f1a"
BARE_KEY = "bare-log-key-0c9e7d5b3a"
WRONG_KEY = "wrong-log-key-1f2e3d4c5b"
MODEL_KEY = "sk-json-model-9a8b7c6d5e4f"


@pytest.fixture(scope="module")
def provider() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as fake:
        yield fake


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, provider: FakeProviderServer
) -> Iterator[tuple[str, Path]]:
    """``agent serve --log-format json`` on a free port (its URL) and its whole output."""
    folder = tmp_path_factory.mktemp("json-serve")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("OTEL_")},
        "AGENT_API_KEYS": f"ci:{NAMED_KEY},{BARE_KEY}",
        "AGENT_MODEL": "openai:gpt-4.1-mini",
        "AGENT_BASE_URL": provider.openai_base_url,
        "OPENAI_API_KEY": MODEL_KEY,
        "AGENT_PROFILES_DIR": str(folder / "profiles"),
        "AGENT_DATA_DIR": str(folder / "data"),
        "AGENT_WARM_BROWSERS": "0",
    }
    args = ("--log-level", "debug", "--log-format", "json")
    with agent_serve_logged(env, folder, *args) as running:
        yield running


async def _use_the_links(links: dict[str, str]) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.connect_over_cdp(links["cdpUrl"])
        await browser.contexts[0].pages[0].evaluate("document.title = 'driven over cdpUrl'")
        await browser.close()
    for name in ("liveViewUrl", "interactiveLiveViewUrl"):
        async with httpx.AsyncClient() as client:
            assert (await client.get(links[name], timeout=30)).status_code == 200
        socket_url = links[name].replace("http://", "ws://", 1).replace("?", "/ws?", 1)
        async with websockets.connect(socket_url, max_size=None) as live:
            assert json.loads(await asyncio.wait_for(live.recv(), 30))["type"] == "frame"


@pytest.fixture(scope="module")
def run(
    served: tuple[str, Path], provider: FakeProviderServer, site: str
) -> tuple[list[dict[str, Any]], str, dict[str, str]]:
    """Every kind of call; then the log's lines (parsed), its text, and the links' tokens."""
    url, log = served
    named = {"Authorization": f"Bearer {NAMED_KEY}"}
    bare = {"Authorization": f"Bearer {BARE_KEY}", "X-Request-Id": "bad id with spaces"}
    provider.enqueue(chat_completion(text="A page with a counter."))
    scraped = httpx.post(
        f"{url}/v2/scrape",
        json={"url": f"{site}/index.html", "formats": ["markdown", "summary"]},
        headers={**named, "X-Request-Id": "req-client-0001"},
        timeout=120,
    )
    assert scraped.status_code == 200, scraped.text
    assert scraped.headers["x-request-id"] == "req-client-0001"
    scrape_id = scraped.json()["data"]["metadata"]["scrapeId"]
    interact = f"{url}/v2/scrape/{scrape_id}/interact"
    code = httpx.post(
        interact, json={"code": "await page.title()", "language": "python"}, headers=bare,
        timeout=120,
    )  # fmt: skip
    assert code.json()["success"], code.text
    assert code.headers["x-request-id"] != "bad id with spaces"
    provider.enqueue(
        chat_completion(tool_calls=[chat_tool_call("call_1", "snapshot", {})]),
        chat_completion(text="Count: 0"),
    )
    prompt = httpx.post(interact, json={"prompt": "Read the count."}, headers=named, timeout=120)
    assert prompt.json()["output"] == "Count: 0", prompt.text
    links = prompt.json()
    asyncio.run(_use_the_links(links))
    for path in ("/metrics", "/v2/team/credit-usage", "/v2/team/token-usage/historical"):
        assert httpx.get(f"{url}{path}", headers=named, timeout=30).status_code == 200
    wrong = httpx.post(
        f"{url}/v2/scrape", json={"url": f"{site}/index.html"},
        headers={"Authorization": f"Bearer {WRONG_KEY}"},
    )  # fmt: skip
    assert wrong.status_code == 401
    assert httpx.delete(interact, headers=named, timeout=60).status_code == 200
    text = log.read_text(errors="replace")
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    tokens = {
        name: links[name].rsplit("token=", 1)[1]
        for name in ("cdpUrl", "liveViewUrl", "interactiveLiveViewUrl")
    }
    return lines, text, {"scrape_id": scrape_id, "code_id": code.headers["x-request-id"], **tokens}


def test_every_line_is_one_json_object(served: tuple[str, Path], run: Any) -> None:
    _url, log = served
    for number, line in enumerate(log.read_text(errors="replace").splitlines(), 1):
        if line.strip():
            entry = json.loads(line)  # raises on the first line that is not JSON
            assert isinstance(entry, dict), f"line {number}: {line}"
            assert {"time", "level", "logger", "message"} <= set(entry), f"line {number}: {line}"


def test_request_lines_carry_their_request(run: Any) -> None:
    lines, _text, seen = run
    access = [entry for entry in lines if entry["logger"] == "uvicorn.access"]
    assert access, "uvicorn's access log is missing"
    for entry in access:
        assert {"request_id", "method", "route", "status", "duration_ms"} <= set(entry), entry
    scrape = next(e for e in access if e["route"] == "/v2/scrape" and e["status"] == 200)
    assert scrape["request_id"] == "req-client-0001"
    assert scrape["key_name"] == "ci" and scrape["method"] == "POST"
    assert scrape["session_id"] == seen["scrape_id"]
    code = next(e for e in access if e["request_id"] == seen["code_id"])
    assert code["key_name"] == unnamed_key_name(BARE_KEY)
    assert code["route"] == "/v2/scrape/{scrape_id}/interact"
    assert code["session_id"] == seen["scrape_id"]
    refused = next(e for e in access if e["status"] == 401)
    assert "key_name" not in refused
    # The library's own lines in a request carry its id too (the scrape's timing line).
    ours = [e for e in lines if e["logger"] == "agent.service.scrape"]
    assert any(e.get("request_id") == "req-client-0001" for e in ours)
    assert any(e["logger"] == "uvicorn.error" for e in lines)


def test_no_key_or_token_in_any_line(run: Any) -> None:
    lines, text, seen = run
    secrets = {
        "named key": NAMED_KEY, "bare key": BARE_KEY, "wrong key": WRONG_KEY,
        "model key": MODEL_KEY,
        **{name: seen[name] for name in ("cdpUrl", "liveViewUrl", "interactiveLiveViewUrl")},
    }  # fmt: skip
    for name, secret in secrets.items():
        assert secret not in text, f"the {name} is in the log"
    assert "token=" not in text.replace("token=[redacted]", ""), "a token is in the log"
    assert f"/v2/cdp/{seen['scrape_id']}?[redacted]" in text, "the DevTools socket was not logged"
    assert any("/v2/live/" in entry["message"] for entry in lines)


def test_no_line_speaks_for_a_request_after_it_was_answered(run: Any) -> None:
    """Tasks a request starts and that live on (its browser's DevTools servers, a spare
    browser's launch) keep its context, but their later lines carry no request id: none comes
    after its request's access line (written as the answer starts)."""
    lines, _text, _seen = run
    answered: set[str] = set()
    for entry in lines:
        request_id = entry.get("request_id")
        assert request_id not in answered, f"a line after its request was answered: {entry}"
        if entry["logger"] == "uvicorn.access":
            answered.add(request_id)
