"""Property-based fuzzing of the served OpenAPI spec with schemathesis: no input gets a 5xx.

The HTTP layer is the real one (uvicorn on a loopback port, the real app and routes); only the
browser is shared, to keep a few hundred fuzzed scrapes from starting a few hundred Chromiums:
every session gets its own context in one Chromium, and every request its pages make is answered
in-process with a tiny page, so fuzzed URLs never reach a network. Interact bodies are fuzzed
against a live session, so prompts (scripted model) and code (real executors) really run.

Budget: at most ``MAX_EXAMPLES`` examples per operation, derandomized (a fixed seed), and at
most ``BUDGET_S`` seconds per operation, after which the remaining examples are skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from playwright.async_api import Route
from schemathesis import GenerationMode

from agent.browser.launch import BrowserProcess, launch_browser
from agent.browser.session import BrowserSession
from agent.server import ServerSettings
from tests.harness import RunningServer, assert_error

MAX_EXAMPLES = 30
BUDGET_S = 12.0
_started: dict[str, float] = {}
_ran: dict[str, int] = {}
_statuses: dict[str, dict[int, int]] = {}


async def _answer_locally(route: Route) -> None:
    await route.fulfill(
        status=200,
        content_type="text/html",
        body="<html><head><title>Fuzz</title></head><body><main><h1>Fuzz</h1>"
        "<a href='/next'>next</a><button>Go</button></main></body></html>",
    )


class SharedBrowser:
    """A session factory handing out fresh contexts of one Chromium (started on first use)."""

    def __init__(self) -> None:
        self.browser: BrowserProcess | None = None
        self._lock: asyncio.Lock | None = None

    async def __call__(self) -> BrowserSession:
        self._lock = self._lock or asyncio.Lock()
        async with self._lock:
            if self.browser is None:
                self.browser = await launch_browser()
        shared = self.browser
        context = await shared.browser.new_context()
        await context.route("**/*", _answer_locally)
        page = await context.new_page()
        return BrowserSession(
            shared.context_view(context, page), action_timeout_s=2, navigation_timeout_s=5
        )

    async def close(self) -> None:
        if self.browser is not None:
            await self.browser.close()


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, str]]:
    shared = SharedBrowser()
    server = RunningServer(
        ServerSettings(
            profiles_dir=tmp_path_factory.mktemp("fuzz-profiles"),
            max_sessions=4,
            warm_browsers=0,
            default_scrape_timeout=5,
        ),
        session_factory=shared,
    )
    try:
        live = server.scrape_id("http://fuzz.invalid/start")
        yield server, live
    finally:
        with contextlib.suppress(Exception):
            server.run(shared.close())
        server.stop()


# Every operation of the served spec; a test below fails when the spec gains one not listed here,
# so a new endpoint cannot go unfuzzed.
OPERATIONS = [
    ("POST", "/v2/scrape"),
    ("POST", "/v2/scrape/{scrape_id}/interact"),
    ("DELETE", "/v2/scrape/{scrape_id}/interact"),
    # Firecrawl's usage endpoints (query strings only: byApiKey on the historical ones).
    ("GET", "/v2/team/credit-usage"),
    ("GET", "/v2/team/token-usage"),
    ("GET", "/v2/team/credit-usage/historical"),
    ("GET", "/v2/team/token-usage/historical"),
    ("GET", "/v2/concurrency-check"),
    ("GET", "/v2/team/queue-status"),
    # Ours: the prompt cache's recipes, the caller's own.
    ("GET", "/v2/cache"),
    ("DELETE", "/v2/cache"),
    ("GET", "/v2/cache/{key}"),
    ("DELETE", "/v2/cache/{key}"),
]


@pytest.fixture(scope="module")
def api_schema(fuzzed: tuple[RunningServer, str]) -> Any:
    server, _ = fuzzed
    return schemathesis.openapi.from_url(f"{server.url}/openapi.json")


def test_every_served_operation_is_fuzzed(api_schema: Any) -> None:
    served = sorted(
        (op.ok().method.upper(), op.ok().path) for op in api_schema.get_all_operations()
    )
    assert served == sorted(OPERATIONS)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _tame(body: Any, *, interact: bool) -> None:
    """Keep valid-but-slow values fast: long waits and timeouts, huge screenshots."""
    if not isinstance(body, dict):
        return
    if _number(body.get("waitFor")) and body["waitFor"] > 200:
        body["waitFor"] = 200
    limit = 3 if interact else 5000  # interact timeouts are seconds, scrape ones milliseconds
    if _number(body.get("timeout")) and body["timeout"] > limit:
        body["timeout"] = limit
    formats = body.get("formats")
    for fmt in formats if isinstance(formats, list) else []:
        viewport = fmt.get("viewport") if isinstance(fmt, dict) else None
        if not isinstance(viewport, dict):
            continue
        for side in ("width", "height"):
            if _number(viewport.get(side)) and viewport[side] > 800:
                viewport[side] = 800


def _repair(body: Any, *, interact: bool, number: int) -> None:
    """Make every other example valid where the spec cannot say how (a URL is just a string
    there, and prompt/code are exclusive), so fuzzed values also reach the browser and the
    executors instead of all stopping at validation."""
    if number % 2 or not isinstance(body, dict):
        return
    if not interact:
        body["url"] = f"http://fuzz-{number}.invalid/{quote(str(body.get('url')), safe='')}"
        return
    if isinstance(body.get("code"), str) and body["code"].strip():
        body.pop("prompt", None)
        body["language"] = ("python", "node", "bash")[number // 2 % 3]
    elif not (isinstance(body.get("prompt"), str) and body["prompt"].strip()):
        body["prompt"] = "Read the heading."


# Driven through hypothesis directly rather than schemathesis's pytest plugin, which breaks
# with each pytest release that changes its internals.
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_input_gets_a_5xx(
    method: str, path: str, api_schema: Any, fuzzed: tuple[RunningServer, str]
) -> None:
    operation = api_schema[path][method]
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases)
    def no_5xx(case: Any) -> None:
        _check_case(case, fuzzed)

    no_5xx()


def _check_case(case: Any, fuzzed: tuple[RunningServer, str]) -> None:
    server, live = fuzzed
    label = f"{case.method} {case.path}"
    started = _started.setdefault(label, time.monotonic())
    if time.monotonic() - started > BUDGET_S:
        return  # this operation's time budget is spent
    number = _ran[label] = _ran.get(label, 0) + 1
    interact = case.method == "POST" and case.path.endswith("/interact")
    if interact:
        case.path_parameters = {**(case.path_parameters or {}), "scrape_id": live}
    _repair(case.body, interact=interact, number=number)
    _tame(case.body, interact=interact)
    response = case.call(base_url=server.url, timeout=60)
    seen = _statuses.setdefault(label, {})
    seen[response.status_code] = seen.get(response.status_code, 0) + 1
    assert response.status_code < 500, f"{response.status_code}: {response.text[:500]}"
    body = response.json()
    if response.status_code >= 400:
        assert_error(response, response.status_code)
    elif case.method == "POST" and case.path == "/v2/scrape":
        scrape_id = body["data"]["metadata"]["scrapeId"]
        assert server.stop_session(scrape_id).status_code == 200


def test_the_fuzzer_ran_and_the_live_session_survived(
    fuzzed: tuple[RunningServer, str], profiles_dir: Path
) -> None:
    server, live = fuzzed
    print("fuzzed statuses per operation:", _statuses)
    assert sum(_ran.values()) >= 20, _ran
    response = server.interact(live, code="await page.title()", language="python")
    assert response.status_code == 200, response.text
    assert response.json()["result"] == "Fuzz"
