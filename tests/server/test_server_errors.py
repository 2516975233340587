"""Every failure answers in Firecrawl's shape with the right status, and never 502."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import requests
from server_harness import PromptScript, RunningServer

from agent.browser.session import BrowserSession

MISSING = "00000000-0000-4000-8000-000000000000"


def _post(server: RunningServer, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.post(f"{server.url}{path}", timeout=60, **kwargs)


def _assert_error(
    response: httpx.Response | requests.Response, status: int, *fragments: str
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False
    assert isinstance(body["error"], str) and body["error"]
    assert "Traceback" not in response.text
    for fragment in fragments:
        assert fragment in body["error"], body["error"]
    return body


@pytest.fixture(scope="module")
def session_id(server: RunningServer, site: str) -> Any:
    response = _post(server, "/v2/scrape", json={"url": f"{site}/other.html"})
    scrape_id = response.json()["data"]["metadata"]["scrapeId"]
    yield scrape_id
    httpx.delete(f"{server.url}/v2/scrape/{scrape_id}/interact", timeout=30)


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
    response = _post(server, f"/v2/scrape/{session_id}/interact", json=body)
    _assert_error(response, 400, fragment)


def test_prompt_with_any_language_is_fine(
    server: RunningServer, script: PromptScript, session_id: str
) -> None:
    """The SDKs send language with every call; for a prompt it is ignored, not validated."""
    script.add("Nothing to do.")
    response = _post(
        server, f"/v2/scrape/{session_id}/interact", json={"prompt": "hi", "language": "ruby"}
    )
    assert response.status_code == 200 and response.json()["output"] == "Nothing to do."


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"url": "ftp://example.com/file"}, "not an http(s) URL"),
        ({"url": "not a url"}, "not an http(s) URL"),
        ({"url": "http://"}, "not an http(s) URL"),
        ({}, "url"),
        ({"url": "http://127.0.0.1/", "formats": ["json"]}, "'json' is not supported"),
        ({"url": "http://127.0.0.1/", "formats": ["pdf"]}, "unknown format 'pdf'"),
        (
            {"url": "http://127.0.0.1/", "formats": [{"type": "screenshot", "quality": 0}]},
            "quality",
        ),
        ({"url": "http://127.0.0.1/", "ttl": 5}, "ttl"),
        ({"url": "http://127.0.0.1/", "activityTtl": 4000}, "activityTtl"),
        ({"url": "http://127.0.0.1/", "timeout": 10}, "timeout"),
        ({"url": "http://127.0.0.1/", "profile": {"name": "../etc/passwd"}}, "not allowed"),
        ({"url": "http://127.0.0.1/", "profile": {"name": "a/b"}}, "not allowed"),
        ({"url": "http://127.0.0.1/", "profile": {"name": ".hidden"}}, "not allowed"),
    ],
)
def test_bad_scrape_bodies_are_400(
    server: RunningServer, body: dict[str, Any], fragment: str
) -> None:
    _assert_error(_post(server, "/v2/scrape", json=body), 400, fragment)


def test_malformed_json_is_400(server: RunningServer) -> None:
    response = _post(
        server, "/v2/scrape", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    body = _assert_error(response, 400)
    assert body["details"]


def test_unknown_scrape_id_is_404(server: RunningServer) -> None:
    _assert_error(
        _post(server, f"/v2/scrape/{MISSING}/interact", json={"prompt": "hi"}), 404, MISSING
    )
    response = httpx.delete(f"{server.url}/v2/scrape/{MISSING}/interact", timeout=30)
    _assert_error(response, 404, "No active session")


def test_page_load_timeout_is_408(server: RunningServer, site: str) -> None:
    before = len(server.registry)
    response = _post(server, "/v2/scrape", json={"url": f"{site}/slow", "timeout": 1000})
    body = _assert_error(response, 408, "did not finish loading within 1 s")
    assert body["code"] == "SCRAPE_TIMEOUT"
    assert len(server.registry) == before, "the timed-out session was closed"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://no-such-host.invalid/", "SCRAPE_DNS_RESOLUTION_ERROR"),
        ("http://127.0.0.1:{closed}/", "SCRAPE_SITE_UNREACHABLE"),
        ("https://127.0.0.1:{site_port}/index.html", "SCRAPE_SSL_ERROR"),
    ],
)
def test_unreachable_sites_say_why(server: RunningServer, site: str, url: str, code: str) -> None:
    url = url.format(closed=_closed_port(), site_port=site.rsplit(":", 1)[1])
    before = len(server.registry)
    body = _assert_error(_post(server, "/v2/scrape", json={"url": url}), 400)
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
    path = f"{guarded.url}/v2/scrape/{MISSING}/interact"
    for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer wrong"},
                    {"Authorization": "Basic key-one"}, {"Authorization": "key-one"}):  # fmt: skip
        # requests (the SDK's client) sends "Bearer " as is; httpx refuses a trailing space.
        response = requests.post(path, json={"prompt": "hi"}, headers=headers, timeout=30)
        _assert_error(response, 401, "Unauthorized")
        assert response.headers["www-authenticate"] == "Bearer"
    for key in ("key-one", "key-two"):
        response = httpx.post(
            path, json={"prompt": "hi"}, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )
        _assert_error(response, 404)  # authenticated; the session just does not exist
    with pytest.raises(UnauthorizedError):
        Firecrawl(api_url=guarded.url, api_key="wrong").stop_interaction(MISSING)


def test_without_keys_any_or_no_bearer_is_accepted(server: RunningServer) -> None:
    path = f"{server.url}/v2/scrape/{MISSING}/interact"
    for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer anything"}):
        response = requests.post(path, json={"prompt": "hi"}, headers=headers, timeout=30)
        _assert_error(response, 404)


def test_browser_failures_are_503_and_bugs_are_500_not_502(
    make_server: Callable[..., RunningServer], site: str
) -> None:
    from agent.errors import BrowserLaunchError

    async def no_browser() -> BrowserSession:
        raise BrowserLaunchError("Chromium exited with code 1 during start-up.")

    async def buggy() -> BrowserSession:
        raise RuntimeError("an unexpected bug")

    body = _assert_error(
        _post(make_server(no_browser), "/v2/scrape", json={"url": f"{site}/"}), 503, "Chromium"
    )
    assert body["code"] == "BROWSER_UNAVAILABLE"
    body = _assert_error(
        _post(make_server(buggy), "/v2/scrape", json={"url": f"{site}/"}), 500, "unexpected bug"
    )
    assert body["code"] == "INTERNAL_ERROR"


def test_private_addresses_can_be_blocked(
    make_server: Callable[..., RunningServer], site: str
) -> None:
    guarded = make_server(block_private_addresses=True)
    body = _assert_error(_post(guarded, "/v2/scrape", json={"url": f"{site}/"}), 403, "private")
    assert body["code"] == "SCRAPE_BLOCKED"
    assert len(guarded.registry) == 0


def test_oversized_body_is_413(server: RunningServer) -> None:
    body = b'{"url": "http://127.0.0.1/", "pad": "' + b"x" * (3 * 1024 * 1024) + b'"}'
    response = _post(
        server, "/v2/scrape", content=body, headers={"Content-Type": "application/json"}
    )
    _assert_error(response, 413, "larger than")


def test_unknown_routes_answer_in_firecrawl_shape(server: RunningServer) -> None:
    _assert_error(httpx.get(f"{server.url}/v2/crawl", timeout=30), 404)
    _assert_error(httpx.get(f"{server.url}/v2/scrape", timeout=30), 405)


def test_lost_browser_is_410_and_the_session_is_closed(server: RunningServer, site: str) -> None:
    import os
    import signal
    import time

    scrape_id = _post(server, "/v2/scrape", json={"url": f"{site}/other.html"}).json()["data"][
        "metadata"
    ]["scrapeId"]
    pid = server.registry.get(scrape_id).browser_session.pid
    os.killpg(pid, signal.SIGKILL)  # the browser crashes
    time.sleep(0.5)
    path = f"/v2/scrape/{scrape_id}/interact"
    body = _assert_error(_post(server, path, json={"prompt": "hi"}), 410, "Scrape the page again")
    assert body["code"] == "SESSION_LOST"
    _assert_error(_post(server, path, json={"prompt": "hi"}), 404, "browser was lost")
