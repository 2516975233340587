"""Every failure answers in Firecrawl's shape with the right status, and never 502."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import requests

from agent.browser.session import BrowserSession
from tests.harness import MISSING_ID, RunningServer, Turns, assert_error, free_port


@pytest.fixture(scope="module")
def session_id(server: RunningServer, site: str) -> Any:
    scrape_id = server.scrape_id(f"{site}/other.html")
    yield scrape_id
    server.stop_session(scrape_id)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"prompt": "x" * 10_001}, "prompt"),
        ({"code": "1;" * 50_001, "language": "node"}, "code"),
        ({"code": "1", "timeout": 0}, "timeout"),
        ({"code": "1", "timeout": 301}, "timeout"),
        ({"code": "puts 1", "language": "ruby"}, "unknown language 'ruby'"),
        ({"prompt": "click", "code": "1"}, "not both"),
        ({}, "prompt' or 'code'"),
        ({"prompt": "   "}, "prompt' or 'code'"),
        ({"prompt": 42}, "prompt"),
    ],
)
def test_bad_interact_bodies_are_400(
    server: RunningServer, session_id: str, body: dict[str, Any], fragment: str
) -> None:
    response = server.post(f"/v2/scrape/{session_id}/interact", json=body)
    assert_error(response, 400, fragment)


def test_prompt_with_any_language_is_fine(
    server: RunningServer, script: Turns, session_id: str
) -> None:
    """The SDKs send language with every call; for a prompt it is ignored, not validated."""
    script.add("Nothing to do.")
    response = server.post(
        f"/v2/scrape/{session_id}/interact", json={"prompt": "hi", "language": "ruby"}
    )
    assert response.status_code == 200 and response.json()["output"] == "Nothing to do."


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"url": "ftp://example.com/file"}, "not an http(s) URL"),
        ({"url": "not a url"}, "not an http(s) URL"),
        ({"url": "http://"}, "not an http(s) URL"),
        ({}, "url"),
        ({"url": "http://127.0.0.1/", "formats": ["json"]}, "a json format needs a 'schema'"),
        ({"url": "http://127.0.0.1/", "formats": ["branding"]}, "'branding' is not supported"),
        ({"url": "http://127.0.0.1/", "formats": ["pdf"]}, "unknown format 'pdf'"),
        (
            {"url": "http://127.0.0.1/", "formats": [{"type": "screenshot", "quality": 0}]},
            "quality",
        ),
        ({"url": "http://127.0.0.1/", "ttl": 5}, "ttl"),
        ({"url": "http://127.0.0.1/", "activityTtl": 4000}, "activityTtl"),
        ({"url": "http://127.0.0.1/", "timeout": 10}, "timeout"),
        ({"url": "http://127.0.0.1/", "profile": {"name": ""}}, "1-128 characters, not 0"),
        ({"url": "http://127.0.0.1/", "profile": {"name": "p" * 129}}, "not 129"),
    ],
)
def test_bad_scrape_bodies_are_400(
    server: RunningServer, body: dict[str, Any], fragment: str
) -> None:
    assert_error(server.post("/v2/scrape", json=body), 400, fragment)


def test_malformed_json_is_400(server: RunningServer) -> None:
    response = server.post(
        "/v2/scrape", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    body = assert_error(response, 400)
    assert body["details"]


def test_unknown_scrape_id_is_404(server: RunningServer) -> None:
    assert_error(
        server.post(f"/v2/scrape/{MISSING_ID}/interact", json={"prompt": "hi"}), 404, MISSING_ID
    )
    assert_error(server.stop_session(MISSING_ID), 404, "No active session")


def test_page_load_timeout_is_408(server: RunningServer, site: str) -> None:
    before = len(server.registry)
    response = server.post("/v2/scrape", json={"url": f"{site}/slow", "timeout": 1000})
    body = assert_error(response, 408, "did not finish loading within 1 s")
    assert body["code"] == "SCRAPE_TIMEOUT"
    assert len(server.registry) == before, "the timed-out session was closed"


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://no-such-host.invalid/", "SCRAPE_DNS_RESOLUTION_ERROR"),
        ("http://127.0.0.1:{closed}/", "SCRAPE_SITE_UNREACHABLE"),
        ("https://127.0.0.1:{site_port}/index.html", "SCRAPE_SSL_ERROR"),
    ],
)
def test_unreachable_sites_say_why(server: RunningServer, site: str, url: str, code: str) -> None:
    url = url.format(closed=free_port(), site_port=site.rsplit(":", 1)[1])
    before = len(server.registry)
    body = assert_error(server.post("/v2/scrape", json={"url": url}), 400)
    assert body["code"] == code
    assert len(server.registry) == before, "a failed scrape closes its session"


def test_dns_error_reaches_the_sdk_as_its_own_class(firecrawl: Any) -> None:
    from firecrawl.v2.utils.error_handler import DNSResolutionError

    with pytest.raises(DNSResolutionError, match="could not be resolved"):
        firecrawl.scrape("http://no-such-host.invalid/", formats=["markdown"])


def test_api_keys_are_checked_when_configured(
    make_server: Callable[..., RunningServer],
) -> None:
    from firecrawl import Firecrawl
    from firecrawl.v2.utils.error_handler import UnauthorizedError

    guarded = make_server(api_keys="key-one, key-two")
    path = f"{guarded.url}/v2/scrape/{MISSING_ID}/interact"
    for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer wrong"},
                    {"Authorization": "Basic key-one"}, {"Authorization": "key-one"}):  # fmt: skip
        # requests (the SDK's client) sends "Bearer " as is; httpx refuses a trailing space.
        response = requests.post(path, json={"prompt": "hi"}, headers=headers, timeout=30)
        assert_error(response, 401, "Unauthorized")
        assert response.headers["www-authenticate"] == "Bearer"
    for key in ("key-one", "key-two"):
        response = httpx.post(
            path, json={"prompt": "hi"}, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )
        assert_error(response, 404)  # authenticated; the session just does not exist
    with pytest.raises(UnauthorizedError):
        Firecrawl(api_url=guarded.url, api_key="wrong").stop_interaction(MISSING_ID)


def test_without_keys_any_or_no_bearer_is_accepted(server: RunningServer) -> None:
    path = f"{server.url}/v2/scrape/{MISSING_ID}/interact"
    for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer anything"}):
        response = requests.post(path, json={"prompt": "hi"}, headers=headers, timeout=30)
        assert_error(response, 404)


def test_browser_failures_are_503_and_bugs_are_500_not_502(
    make_server: Callable[..., RunningServer], site: str
) -> None:
    from agent.errors import BrowserLaunchError

    async def no_browser() -> BrowserSession:
        raise BrowserLaunchError("Chromium exited with code 1 during start-up.")

    async def buggy() -> BrowserSession:
        raise RuntimeError("an unexpected bug")

    body = assert_error(
        make_server(no_browser).post("/v2/scrape", json={"url": f"{site}/"}), 503, "Chromium"
    )
    assert body["code"] == "BROWSER_UNAVAILABLE"
    body = assert_error(
        make_server(buggy).post("/v2/scrape", json={"url": f"{site}/"}), 500, "unexpected bug"
    )
    assert body["code"] == "INTERNAL_ERROR"


def test_private_addresses_can_be_blocked(
    make_server: Callable[..., RunningServer], site: str
) -> None:
    guarded = make_server(block_private_addresses=True)
    body = assert_error(guarded.post("/v2/scrape", json={"url": f"{site}/"}), 403, "private")
    assert body["code"] == "SCRAPE_BLOCKED"
    assert len(guarded.registry) == 0


def test_oversized_body_is_413(server: RunningServer) -> None:
    body = b'{"url": "http://127.0.0.1/", "pad": "' + b"x" * (3 * 1024 * 1024) + b'"}'
    response = server.post("/v2/scrape", content=body, headers={"Content-Type": "application/json"})
    assert_error(response, 413, "larger than")


def test_unknown_routes_answer_in_firecrawl_shape(server: RunningServer) -> None:
    assert_error(httpx.get(f"{server.url}/v2/crawl", timeout=30), 404)
    assert_error(httpx.get(f"{server.url}/v2/scrape", timeout=30), 405)


def test_lost_browser_is_410_and_the_session_is_closed(server: RunningServer, site: str) -> None:
    import time

    scrape_id = server.scrape_id(f"{site}/other.html")
    server.kill_browser(scrape_id)  # the browser crashes
    time.sleep(0.5)
    path = f"/v2/scrape/{scrape_id}/interact"
    body = assert_error(server.post(path, json={"prompt": "hi"}), 410, "Scrape the page again")
    assert body["code"] == "SESSION_LOST"
    assert_error(server.post(path, json={"prompt": "hi"}), 404, "browser was lost")
