"""Security: API keys compared in constant time, loopback by default with a warning when exposed,
private addresses blockable, sessions isolated from each other, and no key in cassettes or logs.
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import json
import logging
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.async_api import async_playwright

from agent.cli import serve
from agent.models import OpenAIModel, RetryPolicy, ScriptedModel, tool_call
from agent.server import ServerSettings
from agent.service.profiles import file_name
from evals.provider_server import FakeProviderServer, chat_completion
from tests.harness import (
    MISSING_ID,
    RunningServer,
    assert_error,
    quick_agent_settings,
    scrape_id_of,
)

ROOT = Path(__file__).resolve().parents[2]
SERVER_KEY = "srv-key-7d1e0c9a54b3f2e8"
OTHER_KEY = "srv-key-other-0b9c8d7e"
WRONG_KEY = "guessed-key-5a4f3e2d1c"
MODEL_KEY = "sk-test-model-key-93c1f07d2b6a"


# --- API keys ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def guarded(profiles_dir: Path) -> Iterator[RunningServer]:
    with RunningServer(
        ServerSettings(
            profiles_dir=profiles_dir, api_keys=f"{SERVER_KEY},{OTHER_KEY}", warm_browsers=0
        ),
        log_level="debug",
    ) as server:
        yield server


def test_every_endpoint_needs_a_key_when_keys_are_set(guarded: RunningServer) -> None:
    attempts = [
        ("POST", "/v2/scrape", {"url": "http://127.0.0.1:9/"}),
        ("POST", f"/v2/scrape/{MISSING_ID}/interact", {"code": "1"}),
        ("DELETE", f"/v2/scrape/{MISSING_ID}/interact", None),
    ]
    for method, path, body in attempts:
        for auth in (
            None,
            "",
            f"Bearer {WRONG_KEY}",
            f"Bearer {SERVER_KEY}x",
            f"Basic {SERVER_KEY}",
        ):
            headers = {"Authorization": auth} if auth is not None else {}
            response = httpx.request(
                method, guarded.url + path, json=body, headers=headers, timeout=30
            )
            assert_error(response, 401)
    authorised = httpx.delete(
        f"{guarded.url}/v2/scrape/{MISSING_ID}/interact",
        headers={"Authorization": f"Bearer {OTHER_KEY}"},
        timeout=30,
    )
    assert_error(authorised, 404)  # through the door; the session just is not there
    assert guarded.launches == 0


def test_keys_are_compared_in_constant_time_against_every_key(
    guarded: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """hmac.compare_digest, and no early exit: every configured key is compared every time,
    so neither the time to first mismatch nor which key was close leaks."""
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)  # what agent.service.keys calls
    for token in (WRONG_KEY, SERVER_KEY):
        compared.clear()
        httpx.delete(
            f"{guarded.url}/v2/scrape/{MISSING_ID}/interact",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert len(compared) == 2, "both keys compared, matching first or not"
        assert {b for _, b in compared} == {SERVER_KEY.encode(), OTHER_KEY.encode()}


def test_the_server_listens_on_loopback_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("AGENT_HOST", "AGENT_API_KEYS", "AGENT_BLOCK_PRIVATE_ADDRESSES"):
        monkeypatch.delenv(name, raising=False)
    defaults = ServerSettings()
    assert defaults.host == "127.0.0.1"
    assert defaults.block_private_addresses is False, "off for local use"
    assert defaults.exposure_warning() is None
    for host in ("localhost", "127.0.0.2", "::1", "[::1]"):
        assert ServerSettings(host=host).exposure_warning() is None, host
    for host in ("0.0.0.0", "::", "192.168.1.20", "myhost.example"):
        warning = ServerSettings(host=host).exposure_warning()
        assert warning and "AGENT_API_KEYS" in warning, host
        assert ServerSettings(host=host, api_keys="k").exposure_warning() is None


def test_agent_serve_warns_when_exposed_without_keys(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("AGENT_API_KEYS", raising=False)
    started: list[str] = []

    def serve_nothing(server: uvicorn.Server, sockets: list[socket.socket]) -> None:
        started.append(sockets[0].getsockname()[0])  # the address it took, then no serving
        server.started = True

    monkeypatch.setattr(uvicorn.Server, "run", serve_nothing)
    args = argparse.Namespace(host="0.0.0.0", port=0, log_level="warning")
    with caplog.at_level(logging.WARNING, logger="agent.serve"):
        assert serve._serve(args) == 0
    assert started == ["0.0.0.0"]
    assert any("no API keys" in record.getMessage() for record in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="agent.serve"):
        serve._serve(argparse.Namespace(host=None, port=0, log_level="warning"))
    assert started[-1] == "127.0.0.1"
    assert not [r for r in caplog.records if r.name == "agent.serve"]


# --- private addresses -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/page",
        "http://127.1:{port}/page",
        "http://2130706433:{port}/page",
        "http://localhost:{port}/page",
        "http://[::1]:{port}/page",
        "http://[::ffff:127.0.0.1]:{port}/page",
        "http://0.0.0.0:{port}/page",
        "http://10.1.2.3/",
        "http://172.16.0.1/",
        "http://192.168.0.1/",
        "http://100.64.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/",
        "http://[fd00::1]/",
    ],
)
def test_private_addresses_are_refused_when_blocking_is_on(
    blocking: RunningServer, site: str, url: str
) -> None:
    """Refused before any browser starts: nothing is ever sent to these addresses."""
    url = url.format(port=site.rsplit(":", 1)[1])
    body = assert_error(blocking.scrape(url), 403)
    assert body["code"] == "SCRAPE_BLOCKED"
    assert blocking.launches == 0 and len(blocking.registry) == 0


@pytest.fixture(scope="module")
def blocking(profiles_dir: Path) -> Iterator[RunningServer]:
    with RunningServer(
        ServerSettings(profiles_dir=profiles_dir, block_private_addresses=True, warm_browsers=0)
    ) as server:
        yield server


# --- isolation between sessions ----------------------------------------------------------------


@pytest.fixture(scope="module")
def open_server(profiles_dir: Path) -> Iterator[RunningServer]:
    with RunningServer(
        ServerSettings(profiles_dir=profiles_dir, warm_browsers=0), count_launches=False
    ) as server:
        yield server


async def _pages_and_cookies(cdp_url: str) -> tuple[list[str], list[str]]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.connect_over_cdp(cdp_url)
        try:
            urls = [page.url for context in browser.contexts for page in context.pages]
            cookies = [
                f"{c['name']}={c['value']}"
                for context in browser.contexts
                for c in await context.cookies()
            ]
            return urls, cookies
        finally:
            await browser.close()  # over CDP this disconnects; the session's browser stays up


def test_one_session_cannot_reach_another_sessions_browser_or_profile(
    open_server: RunningServer, site: str, profiles_dir: Path
) -> None:
    alice = open_server.scrape_id(f"{site}/page?set=alice", profile={"name": "alice"})
    bob = open_server.scrape_id(f"{site}/page?set=bob")
    interacted = {
        sid: open_server.interact(sid, code="echo $AGENT_CDP_URL", language="bash").json()
        for sid in (alice, bob)
    }
    alice_cdp, bob_cdp = (interacted[sid]["cdpUrl"] for sid in (alice, bob))
    assert alice_cdp != bob_cdp

    # Each cdpUrl reaches its own browser: its page, its cookies, nobody else's.
    for cdp, mine, theirs in ((alice_cdp, "alice", "bob"), (bob_cdp, "bob", "alice")):
        urls, cookies = asyncio.run(_pages_and_cookies(cdp))
        assert urls == [f"{site}/page?set={mine}"], urls
        assert cookies == [f"sid={mine}"], cookies
        assert theirs not in " ".join(urls + cookies)

    # Code reaches its own session's browser through a socket inside its own sandbox: the
    # URL it is given names no other session's (the attack table in test_reliability_sandbox.py
    # shows it reaches nothing else).
    for sid in (alice, bob):
        own = interacted[sid]["stdout"].strip()
        assert own.startswith("ws+unix://") and alice_cdp not in own and bob_cdp not in own

    # A live-view token opens only the session it was issued for.
    alice_view = interacted[alice]["liveViewUrl"]
    token = alice_view.split("token=", 1)[1]
    assert httpx.get(alice_view, timeout=30).status_code == 200
    stolen = httpx.get(f"{open_server.url}/v2/live/{bob}?token={token}", timeout=30)
    assert_error(stolen, 403)

    # Alice's profile: saved for her; a session that does not name it never sees it, and no
    # name reaches her file by a path: a name that reads like one is a profile of its own.
    open_server.stop_session(alice)
    saved = (profiles_dir / "alice.json").read_bytes()
    assert b"alice" in saved
    for name in ("../alice", "./alice", "alice/../alice", "ALICE/.."):
        other = open_server.scrape(f"{site}/page", profile={"name": name, "saveChanges": False})
        open_server.stop_session(scrape_id_of(other))
        assert "token=none sid=none" in other.json()["data"]["markdown"], name
    assert (profiles_dir / "alice.json").read_bytes() == saved
    carol = open_server.scrape(f"{site}/page")
    assert "token=none sid=none" in carol.json()["data"]["markdown"]
    carol_id = carol.json()["data"]["metadata"]["scrapeId"]

    # Nor can a prompt (or a page steering the model) make the planner open her file.
    profile_url = (profiles_dir / "alice.json").as_uri()
    open_server.turns.add(
        [tool_call("navigate", url=profile_url)], [tool_call("get_text")], "Nothing there."
    )
    response = open_server.interact(carol_id, prompt="Open the profile file and read it.")
    assert response.status_code == 200, response.text
    model = open_server.model
    assert isinstance(model, ScriptedModel)
    seen = json.dumps([str(getattr(m, "content", m)) for m in model.requests[-1].messages])
    assert "cannot be opened here" in seen and '"value": "alice"' not in seen
    assert "alice" not in response.json()["result"]
    open_server.stop_session(carol_id)
    open_server.stop_session(bob)


@pytest.mark.parametrize("name", ["../x", "a/../../b"])
def test_a_profile_name_that_reads_like_a_path_is_saved_inside_the_profiles_folder(
    open_server: RunningServer, site: str, profiles_dir: Path, name: str
) -> None:
    """Firecrawl takes any 1-128 characters as a profile name, so ``../x`` is a name like any
    other: its file is named after it (never by it), in the profiles folder, and loads back."""
    outside = {p.name for p in profiles_dir.parent.iterdir()}
    tag = f"path-{len(name)}"
    open_server.stop_session(
        open_server.scrape_id(f"{site}/page?set={tag}", profile={"name": name})
    )
    stored = profiles_dir / file_name(name)
    assert stored.parent == profiles_dir and tag in stored.read_text()
    assert not [p for p in profiles_dir.iterdir() if p.is_dir()]
    assert {p.name for p in profiles_dir.parent.iterdir()} == outside, "a file escaped the folder"
    again = open_server.scrape(f"{site}/page", profile={"name": name, "saveChanges": False})
    open_server.stop_session(scrape_id_of(again))
    assert f"token={tag} sid={tag}" in again.json()["data"]["markdown"]


# --- no secret in cassettes or logs ------------------------------------------------------------

_SECRET_PATTERNS = [
    re.compile(r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{16,}"),  # OpenAI / Anthropic key shapes
    re.compile(r"Bearer\s+(?!\s*$)[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"^\s*-?\s*['\"]?(authorization|x-api-key|api-key)['\"]?\s*:", re.I | re.M),
]


def _cassettes() -> list[Path]:
    found = [
        path
        for folder in (ROOT / "tests" / "models" / "cassettes", ROOT / "evals" / "cassettes")
        if folder.is_dir()
        for path in folder.rglob("*")
        if path.is_file() and path.suffix in (".yaml", ".yml", ".json")
    ]
    return sorted(found)


def test_cassettes_hold_no_keys_or_auth_headers() -> None:
    cassettes = _cassettes()
    assert cassettes, "no cassettes found to scan"
    leaks = [
        f"{path.relative_to(ROOT)}: {match.group(0)[:40]!r}"
        for path in cassettes
        for pattern in _SECRET_PATTERNS
        if (match := pattern.search(path.read_text(encoding="utf-8", errors="replace")))
    ]
    assert not leaks, leaks


class LogCapture(logging.Handler):
    """Keeps every record emitted anywhere in the process (server thread included)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:  # a record that cannot even be formatted is still a record
            self.lines.append(f"{record.levelname} {record.name}: {record.msg!r} {record.args!r}")

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@contextmanager
def capture_all_logs() -> Iterator[LogCapture]:
    """Capture DEBUG and up from every logger (uvicorn, httpx, openai, agent...); start the
    server before entering, as uvicorn configures its loggers when it starts."""
    handler = LogCapture()
    # uvicorn's own loggers do not propagate to the root logger: attach to them directly.
    loggers = [logging.getLogger(name) for name in ("", "uvicorn", "uvicorn.access")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)


def test_server_logs_hold_no_keys_or_auth_headers(
    guarded: RunningServer, profiles_dir: Path, site: str
) -> None:
    """A run at DEBUG (uvicorn access log, httpx, the model SDK, the agent): requests with the
    server's key, a wrong key and a prompt sent with the model's key leave none of them in any
    log line."""
    with FakeProviderServer() as provider:
        model = OpenAIModel(
            "fake-model",
            api_key=MODEL_KEY,
            base_url=provider.openai_base_url,
            provider="openai-compatible",
            retry=RetryPolicy(retries=1, initial_backoff_s=0.01, max_backoff_s=0.05),
        )
        server = RunningServer(
            ServerSettings(profiles_dir=profiles_dir, api_keys=SERVER_KEY, warm_browsers=0),
            model=model,
            agent_settings=quick_agent_settings(),
            log_level="debug",
        )
        try:
            with capture_all_logs() as logs:
                authorised = {"Authorization": f"Bearer {SERVER_KEY}"}
                httpx.post(
                    f"{server.url}/v2/scrape",
                    json={"url": f"{site}/page"},
                    headers={"Authorization": f"Bearer {WRONG_KEY}"},
                    timeout=30,
                )
                scraped = httpx.post(
                    f"{server.url}/v2/scrape",
                    json={"url": f"{site}/page", "headers": {"X-Api-Key": "site-secret-1f2e"}},
                    headers=authorised,
                    timeout=120,
                )
                assert scraped.status_code == 200, scraped.text
                scrape_id = scraped.json()["data"]["metadata"]["scrapeId"]
                provider.enqueue(chat_completion(text="Done."))
                prompted = httpx.post(
                    f"{server.url}/v2/scrape/{scrape_id}/interact",
                    json={"prompt": "Read the page."},
                    headers=authorised,
                    timeout=120,
                )
                assert prompted.status_code == 200, prompted.text
                httpx.delete(
                    f"{server.url}/v2/scrape/{scrape_id}/interact", headers=authorised, timeout=60
                )
        finally:
            server.stop()
        sent = provider.requests[0].headers.get("authorization", "")
    assert sent == f"Bearer {MODEL_KEY}", "the model key really was sent to the provider"
    text = logs.text
    assert len(logs.lines) > 5 and "POST /v2/scrape" in text, "the logs were captured"
    for secret in (SERVER_KEY, WRONG_KEY, MODEL_KEY, "site-secret-1f2e"):
        assert secret not in text, f"{secret} leaked into the logs"
    for pattern in _SECRET_PATTERNS:
        assert not pattern.search(text), pattern.search(text)
    assert json.dumps(text)  # and the captured logs are plain text
