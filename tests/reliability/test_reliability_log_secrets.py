"""No secret in the server's log: ``agent serve`` runs as a subprocess with its own logging (at
debug level, the most it says), a client uses every link it hands out (scrape, interact, the
cdpUrl with Playwright, both live views and their WebSockets, a 401 with a wrong key), and the
whole log is searched for every token and key."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets
from playwright.async_api import async_playwright

from agent.observability.redaction import REDACTED, install_redaction, redact
from tests.subprocesses import agent_serve_logged

API_KEY = "agent-key-5d1c9e7a3b2f4e60"
WRONG_KEY = "wrong-key-8a7b6c5d4e3f2a1b"
MODEL_KEY = "sk-model-key-0f1e2d3c4b5a6978"


@pytest.fixture(scope="module")
def server_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """``agent serve`` on a free port (its URL) and the file its output goes to."""
    folder = tmp_path_factory.mktemp("serve")
    env = {
        **os.environ,
        "AGENT_API_KEYS": f"{API_KEY},another-key-1234567890",
        "OPENAI_API_KEY": MODEL_KEY,
        "AGENT_PROFILES_DIR": str(folder / "profiles"),
        "AGENT_WARM_BROWSERS": "0",
    }
    with agent_serve_logged(env, folder, "--log-level", "debug") as served:
        yield served


async def _use_the_links(links: dict[str, str]) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.connect_over_cdp(links["cdpUrl"])
        page = browser.contexts[0].pages[0]
        await page.evaluate("document.title = 'driven over cdpUrl'")
        await browser.close()
    for name in ("liveViewUrl", "interactiveLiveViewUrl"):
        page_url = links[name]
        async with httpx.AsyncClient() as client:
            assert (await client.get(page_url, timeout=30)).status_code == 200
        socket_url = page_url.replace("http://", "ws://", 1).replace("?", "/ws?", 1)
        async with websockets.connect(socket_url, max_size=None) as live:
            frame = json.loads(await asyncio.wait_for(live.recv(), 30))
            assert frame["type"] == "frame"
            move = {"type": "mouse", "event": "mouseMoved", "x": 5, "y": 5, "button": "none"}
            await live.send(json.dumps(move))


def test_the_log_of_a_run_that_used_every_link_holds_no_secret(
    server_log: tuple[str, Path], site: str
) -> None:
    url, log = server_log
    auth = {"Authorization": f"Bearer {API_KEY}"}
    scraped = httpx.post(
        f"{url}/v2/scrape", json={"url": f"{site}/page"}, headers=auth, timeout=120
    )
    assert scraped.status_code == 200, scraped.text
    scrape_id = scraped.json()["data"]["metadata"]["scrapeId"]
    interact = f"{url}/v2/scrape/{scrape_id}/interact"
    body = {"code": "echo hi && agent-browser get url", "language": "bash"}
    links = httpx.post(interact, json=body, headers=auth, timeout=120).json()
    assert links["success"], links
    asyncio.run(_use_the_links(links))
    wrong = httpx.post(
        f"{url}/v2/scrape",
        json={"url": f"{site}/page"},
        headers={"Authorization": f"Bearer {WRONG_KEY}"},
    )
    assert wrong.status_code == 401
    assert httpx.delete(interact, headers=auth, timeout=60).status_code == 200

    text = log.read_text(errors="replace")
    tokens = {
        name: links[name].rsplit("token=", 1)[1]
        for name in ("cdpUrl", "liveViewUrl", "interactiveLiveViewUrl")
    }
    assert f"/v2/cdp/{scrape_id}?{REDACTED}" in text, "the DevTools socket was not logged"
    assert f"/v2/live/{scrape_id}/ws?{REDACTED}" in text, "the live view socket was not logged"
    for name, secret in {
        "API key": API_KEY, "wrong key": WRONG_KEY, "model key": MODEL_KEY, **tokens,
    }.items():  # fmt: skip
        assert secret not in text, f"the {name} is in the log"
    assert "token=" not in text.replace(f"token={REDACTED}", ""), "a token is in the log"


@pytest.mark.parametrize(
    ("line", "clean"),
    [
        (
            'GET /v2/live/abc?token=T0k3nT0k3nT0k3n HTTP/1.1" 200',
            f'GET /v2/live/abc?{REDACTED} HTTP/1.1" 200',
        ),
        ("WebSocket /v2/cdp/abc?token=xyz&x=1", f"WebSocket /v2/cdp/abc?{REDACTED}"),
        ("ws://h/x?token=abc&y=2", f"ws://h/x?token={REDACTED}&y=2"),
        ("Authorization: Bearer sk-abc.def", f"Authorization: Bearer {REDACTED}"),
        (
            "ws://127.0.0.1:9/devtools/browser/AbCdEfGhIjKlMnOpQrSt",
            "ws://127.0.0.1:9/devtools/browser/" + REDACTED,
        ),
        ("ws+unix:///run/cdp.sock:/devtools/browser", "ws+unix:///run/cdp.sock:/devtools/browser"),
        ("nothing secret here", "nothing secret here"),
    ],
)
def test_what_redaction_removes(line: str, clean: str) -> None:
    assert redact(line) == clean


def test_a_json_formatter_gets_clean_records_too() -> None:
    """Redaction happens as the record is made, so any formatter sees the clean one."""
    install_redaction(["a-registered-secret-value"])

    class JsonFormatter(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            return json.dumps(
                {"msg": record.getMessage(), "args": [str(a) for a in record.args or ()],
                 "exc": self.formatException(record.exc_info) if record.exc_info else None,
                 "exc_text": record.exc_text}
            )  # fmt: skip

    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Keep()
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("tests.redaction")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        logger.info('%s - "WebSocket %s" [accepted]', "127.0.0.1", "/v2/cdp/x?token=abcdef")
        logger.info("key %s", "a-registered-secret-value")
        try:
            raise ValueError("failed at ws://h/v2/live/x/ws?token=abcdef")
        except ValueError:
            logger.exception("it failed")
    finally:
        logger.removeHandler(handler)
    joined = "\n".join(lines)
    assert "abcdef" not in joined and "a-registered-secret-value" not in joined, joined
    assert json.loads(lines[0])["msg"] == f'127.0.0.1 - "WebSocket /v2/cdp/x?{REDACTED}" [accepted]'
    assert "ValueError: failed at ws://h/v2/live/x/ws?" in json.loads(lines[2])["exc_text"]
