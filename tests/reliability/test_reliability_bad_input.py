"""Malformed and hostile requests: each gets a clear 4xx in Firecrawl's error shape, launches no
browser, and leaves the server serving and every session and profile as it was."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.server import ServerSettings
from tests.harness import MISSING_ID, RunningServer, assert_error

PROFILE = "kept-profile"
SID = "{sid}"  # replaced by the live session's scrapeId


@dataclass(frozen=True)
class Case:
    """One hostile request and the status it must get."""

    name: str
    path: str
    status: int | tuple[int, ...] = 400
    json: Any = None
    raw: bytes | None = None
    content_type: str | None = "application/json"
    method: str = "POST"
    headers: dict[str, str] = field(default_factory=dict)
    fragment: str = ""
    firecrawl_shape: bool = True


def _raw(text: str) -> bytes:
    """JSON text as sent, so escapes like \\u0000 and \\ud800 reach the server unchanged."""
    return text.encode()


SCRAPE = "/v2/scrape"
INTERACT = f"/v2/scrape/{SID}/interact"
GOOD_URL = "http://127.0.0.1:9/never-loaded"  # never reached: every case fails validation

CASES = [
    # --- scrape: missing fields and wrong types
    Case("scrape-empty-object", SCRAPE, json={}, fragment="url"),
    Case("scrape-url-number", SCRAPE, json={"url": 123}, fragment="url"),
    Case("scrape-url-null", SCRAPE, json={"url": None}, fragment="url"),
    Case("scrape-url-list", SCRAPE, json={"url": [GOOD_URL]}, fragment="url"),
    Case("formats-string", SCRAPE, json={"url": GOOD_URL, "formats": "markdown"}),
    Case("formats-number-item", SCRAPE, json={"url": GOOD_URL, "formats": [1]}),
    Case("formats-object-no-type", SCRAPE, json={"url": GOOD_URL, "formats": [{}]}),
    Case("formats-unknown", SCRAPE, json={"url": GOOD_URL, "formats": ["pdf"]}, fragment="pdf"),
    Case("formats-llm-only", SCRAPE, json={"url": GOOD_URL, "formats": ["json"]}),
    Case(
        "screenshot-quality-out-of-range",
        SCRAPE,
        json={"url": GOOD_URL, "formats": [{"type": "screenshot", "quality": 500}]},
    ),
    Case(
        "screenshot-viewport-huge",
        SCRAPE,
        json={"url": GOOD_URL, "formats": [{"type": "screenshot", "viewport": {"width": 10**9}}]},
    ),
    Case("timeout-string", SCRAPE, json={"url": GOOD_URL, "timeout": "fast"}, fragment="timeout"),
    Case("timeout-negative", SCRAPE, json={"url": GOOD_URL, "timeout": -1}, fragment="timeout"),
    Case("timeout-infinite", SCRAPE, raw=_raw(f'{{"url": "{GOOD_URL}", "timeout": 1e999}}')),
    Case("timeout-nan", SCRAPE, raw=_raw(f'{{"url": "{GOOD_URL}", "timeout": NaN}}')),
    Case("waitfor-huge", SCRAPE, json={"url": GOOD_URL, "waitFor": 10**12}, fragment="waitFor"),
    Case("ttl-too-short", SCRAPE, json={"url": GOOD_URL, "ttl": 1}, fragment="ttl"),
    Case("only-main-content-list", SCRAPE, json={"url": GOOD_URL, "onlyMainContent": [1]}),
    Case("headers-list", SCRAPE, json={"url": GOOD_URL, "headers": ["a"]}, fragment="headers"),
    Case("headers-number-value", SCRAPE, json={"url": GOOD_URL, "headers": {"X-A": 1}}),
    # --- scrape: URLs that are not http(s) or not URLs at all
    Case("url-file", SCRAPE, json={"url": "file:///etc/passwd"}, fragment="http(s)"),
    Case("url-javascript", SCRAPE, json={"url": "javascript:alert(1)"}, fragment="http(s)"),
    Case("url-data", SCRAPE, json={"url": "data:text/html,<h1>x</h1>"}, fragment="http(s)"),
    Case("url-ftp", SCRAPE, json={"url": "ftp://127.0.0.1/file"}, fragment="http(s)"),
    Case("url-chrome", SCRAPE, json={"url": "chrome://settings"}, fragment="http(s)"),
    Case("url-no-host", SCRAPE, json={"url": "http://"}, fragment="http(s)"),
    Case("url-port-out-of-range", SCRAPE, json={"url": "http://127.0.0.1:99999/"}),
    Case("url-nul", SCRAPE, raw=_raw('{"url": "http://127.0.0.1:9/\\u0000x"}'), fragment="\\x00"),
    Case("url-lone-surrogate", SCRAPE, raw=_raw('{"url": "http://127.0.0.1:9/\\ud800"}')),
    Case("url-rtl-override", SCRAPE, json={"url": "http://\u202egnp.exe.example/"}),
    Case("url-space", SCRAPE, json={"url": "http://exa mple.com/"}),
    # --- scrape: profile names Firecrawl refuses too (1-128 characters of any kind are fine;
    # names like ../x are profiles of their own: test_reliability_security.py)
    Case("profile-empty", SCRAPE, json={"url": GOOD_URL, "profile": {"name": ""}}),
    Case("profile-too-long", SCRAPE, json={"url": GOOD_URL, "profile": {"name": "p" * 129}}),
    Case(
        "profile-nul",
        SCRAPE,
        raw=_raw(f'{{"url": "{GOOD_URL}", "profile": {{"name": "a\\u0000"}}}}'),
    ),
    Case(
        "profile-lone-surrogate",
        SCRAPE,
        raw=_raw(f'{{"url": "{GOOD_URL}", "profile": {{"name": "a\\ud800"}}}}'),
    ),
    Case("profile-string", SCRAPE, json={"url": GOOD_URL, "profile": PROFILE}),
    Case("profile-no-name", SCRAPE, json={"url": GOOD_URL, "profile": {"saveChanges": True}}),
    Case(
        "profile-save-not-bool",
        SCRAPE,
        json={"url": GOOD_URL, "profile": {"name": PROFILE, "saveChanges": "maybe"}},
    ),
    # --- interact on a live session: bad bodies
    Case("interact-empty", INTERACT, json={}, fragment="prompt' or 'code'"),
    Case("interact-both", INTERACT, json={"prompt": "a", "code": "1"}, fragment="not both"),
    Case("interact-blank-prompt", INTERACT, json={"prompt": " \n\t "}),
    Case("interact-prompt-number", INTERACT, json={"prompt": 42}),
    Case("interact-code-list", INTERACT, json={"code": ["1"], "language": "python"}),
    Case("interact-prompt-oversized", INTERACT, json={"prompt": "x" * 10_001}, fragment="prompt"),
    Case("interact-code-oversized", INTERACT, json={"code": "1\n" * 50_001}, fragment="code"),
    Case("interact-timeout-zero", INTERACT, json={"code": "1", "timeout": 0}, fragment="timeout"),
    Case("interact-timeout-301", INTERACT, json={"code": "1", "timeout": 301}),
    Case("interact-timeout-fraction", INTERACT, json={"code": "1", "timeout": 1.5}),
    Case("interact-language-ruby", INTERACT, json={"code": "puts 1", "language": "ruby"}),
    Case(
        "interact-code-nul",
        INTERACT,
        raw=_raw('{"code": "echo a\\u0000b", "language": "bash"}'),
        fragment="\\x00",
    ),
    Case("interact-prompt-surrogate", INTERACT, raw=_raw('{"prompt": "click \\udc00 it"}')),
    # --- ids and routes
    Case("interact-unknown-id", f"/v2/scrape/{MISSING_ID}/interact", 404, json={"code": "1"}),
    Case("stop-unknown-id", f"/v2/scrape/{MISSING_ID}/interact", 404, method="DELETE"),
    Case("interact-dotdot-id", "/v2/scrape/..%2F..%2Fetc/interact", 404, json={"code": "1"}),
    Case("interact-nul-id", "/v2/scrape/%00/interact", 404, json={"code": "1"}),
    Case("interact-huge-id", f"/v2/scrape/{'9' * 4000}/interact", 404, json={"code": "1"}),
    Case("interact-surrogate-id", "/v2/scrape/%ED%A0%80/interact", 404, method="DELETE"),
    Case("scrape-get", SCRAPE, 405, method="GET", content_type=None),
    Case("interact-put", INTERACT, 405, method="PUT", json={"code": "1"}),
    Case("unknown-route", "/v2/crawl", 404, json={"url": GOOD_URL}),
    Case("live-view-bad-token", f"/v2/live/{SID}?token=guess", 403, method="GET"),
    # --- bodies that are not the JSON object expected
    Case("invalid-json", SCRAPE, raw=b'{"url": "http://a/",'),
    Case("json-array", SCRAPE, raw=b'["http://127.0.0.1/"]'),
    Case("json-null", SCRAPE, raw=b"null"),
    Case("empty-body", SCRAPE, raw=b""),
    Case("invalid-utf8", SCRAPE, raw=b'{"url": "http://a/\xff\xfe"}'),
    Case("deep-nesting", SCRAPE, raw=b"[" * 100_000),
    Case(
        "text-plain", SCRAPE, raw=json.dumps({"url": GOOD_URL}).encode(), content_type="text/plain"
    ),
    Case(
        "form-encoded",
        SCRAPE,
        raw=b"url=http%3A%2F%2Fa%2F",
        content_type="application/x-www-form-urlencoded",
    ),
    Case("no-content-type", SCRAPE, raw=json.dumps({"url": GOOD_URL}).encode(), content_type=None),
    Case("body-3mb-declared", SCRAPE, 413, raw=b'{"url": "' + b"a" * (3 << 20) + b'"}'),
    # --- oversized request headers
    Case("header-64kb", SCRAPE, 431, json={"url": GOOD_URL}, headers={"X-Big": "a" * 65_536}),
    Case(
        "headers-5000",
        SCRAPE,
        431,
        json={"url": GOOD_URL},
        headers={f"X-H{i}": "v" for i in range(5000)},
    ),
]


@pytest.fixture(scope="module")
def served(profiles_dir: Path) -> Iterator[RunningServer]:
    with RunningServer(
        ServerSettings(profiles_dir=profiles_dir, max_sessions=3, warm_browsers=0, reap_interval=1)
    ) as server:
        yield server


@pytest.fixture(scope="module")
def before_batch(served: RunningServer, site: str, profiles_dir: Path) -> dict[str, Any]:
    """A saved profile and a live session with state, both to be checked after the batch."""
    writer = served.scrape_id(f"{site}/page?set=before", profile={"name": PROFILE})
    assert served.stop_session(writer).status_code == 200
    profile_bytes = (profiles_dir / f"{PROFILE}.json").read_bytes()
    scrape_id = served.scrape_id(f"{site}/page", profile={"name": PROFILE, "saveChanges": False})
    served.run(served.session(scrape_id).browser_session.page.fill("#name", "typed before"))
    return {
        "sid": scrape_id,
        "profile": profile_bytes,
        "sessions": len(served.registry),
        "launches": served.launches,
        "view_token": served.session(scrape_id).view_token,
    }


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 40
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_hostile_request_gets_a_clear_4xx(
    served: RunningServer, before_batch: dict[str, Any], case: Case
) -> None:
    path = case.path.replace(SID, before_batch["sid"])
    headers = dict(case.headers)
    if case.content_type is not None:
        headers["Content-Type"] = case.content_type
    content = case.raw if case.raw is not None else None
    if case.json is not None:
        content = json.dumps(case.json).encode()
    with httpx.Client(timeout=60) as client:
        response = client.request(case.method, served.url + path, content=content, headers=headers)
        if case.firecrawl_shape:
            assert_error(response, case.status, case.fragment)
        else:  # refused below the app, in uvicorn's own words
            wanted = case.status if isinstance(case.status, tuple) else (case.status,)
            assert response.status_code in wanted, response.text
        # The server keeps serving, and nothing reached a browser or opened a session.
        assert client.get(f"{served.url}/health").status_code == 200
    assert served.launches == before_batch["launches"], "hostile input launched a browser"
    assert len(served.registry) == before_batch["sessions"]


def test_server_and_state_survive_the_batch(
    served: RunningServer, before_batch: dict[str, Any], profiles_dir: Path
) -> None:
    """Runs after the table: the session still works with its state, the profile is intact."""
    scrape_id = before_batch["sid"]
    response = served.interact(
        scrape_id,
        code="[await page.title(), await page.input_value('#name'), "
        "await page.evaluate('localStorage.getItem(\"token\")')]",
        language="python",
    )
    assert response.status_code == 200, response.text
    assert json.loads(response.json()["result"]) == ["Reliability page", "typed before", "before"]
    assert (profiles_dir / f"{PROFILE}.json").read_bytes() == before_batch["profile"]
    assert not list(profiles_dir.glob("*.tmp")), "no half-written profile was left"
    assert sorted(p.name for p in profiles_dir.iterdir()) == [f"{PROFILE}.json"]


@pytest.mark.parametrize(
    "text",
    [
        "emoji \U0001f600\U0001f44d\U0001f3fd",
        "RTL \u05e9\u05dc\u05d5\u05dd \u202eevil\u202c",
        "plain",
    ],
    ids=["emoji", "rtl", "plain"],
)
def test_unicode_edge_cases_that_are_valid_round_trip(
    served: RunningServer, before_batch: dict[str, Any], text: str
) -> None:
    """Emoji and right-to-left text are valid input: they reach the page and come back intact."""
    response = served.interact(
        before_batch["sid"],
        code=f"await page.fill('#name', {text!r})\nawait page.input_value('#name')",
        language="python",
    )
    assert response.status_code == 200, response.text
    assert response.json()["result"] == text


def test_a_page_with_lone_surrogates_is_served_not_a_500(
    served: RunningServer, before_batch: dict[str, Any]
) -> None:
    """JavaScript strings may hold lone surrogates, which UTF-8 cannot encode: a hostile page
    titled with one must not turn scrape or interact answers into 500s."""
    scrape_id = before_batch["sid"]
    served.run(
        served.session(scrape_id).browser_session.page.evaluate(
            "document.title = 'bad \\ud800 title'; "
            "document.querySelector('h1').textContent = 'lone \\udc00 here'"
        )
    )
    response = served.interact(scrape_id, code="await page.title()", language="node")
    assert response.status_code == 200, response.text
    assert response.json()["result"] == "bad \ufffd title"
    response = served.interact(scrape_id, prompt="What is the heading?")
    assert response.status_code == 200, response.text
    assert "lone \ufffd here" in response.json()["result"]


def test_chunked_body_without_length_is_bounded(
    served: RunningServer, before_batch: dict[str, Any]
) -> None:
    """A body sent without Content-Length is cut off at the limit too, not read to the end."""

    def chunks() -> Iterator[bytes]:
        yield b'{"url": "http://127.0.0.1:9/", "pad": "'
        for _ in range(64):  # 4 MiB
            yield b"a" * 65_536
        yield b'"}'

    response = httpx.post(
        f"{served.url}/v2/scrape",
        content=chunks(),
        headers={"Content-Type": "application/json"},
        timeout=60,
    )
    assert_error(response, 413)
    assert served.launches == before_batch["launches"]
