"""Past one machine: sessions on remote browser endpoints, and replicas sharing Redis.

Everything here is real and on loopback: a Chromium with a DevTools port (``cdp``), a Playwright
browser server (``playwright``), ``redis-server`` and ``agent serve`` replicas as processes.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.models import tool_call
from agent.server import ServerSettings
from tests.harness import RunningServer, assert_error, find_ref, quick_agent_settings


def _endpoint(kind: str, cdp_endpoint: str, playwright_endpoint: str) -> dict[str, Any]:
    if kind == "cdp":
        return {"kind": "cdp", "url": cdp_endpoint, "capacity": 4}
    if kind == "playwright":
        return {"kind": "playwright", "url": playwright_endpoint, "capacity": 4}
    return {"kind": "local"}


@pytest.mark.parametrize("kind", ["local", "cdp", "playwright"])
def test_the_firecrawl_quick_start_on_each_provider(
    kind: str, cdp_endpoint: str, playwright_endpoint: str, site: str, tmp_path: Path
) -> None:
    endpoint = _endpoint(kind, cdp_endpoint, playwright_endpoint)
    settings = ServerSettings(
        browser_endpoints=[endpoint], profiles_dir=tmp_path / "profiles", warm_browsers=0
    )
    with RunningServer(settings, agent_settings=quick_agent_settings()) as server:
        scraped = server.scrape(f"{site}/form.html", formats=["markdown"])
        assert scraped.status_code == 200, scraped.text
        data = scraped.json()["data"]
        assert "Replicated form" in data["markdown"]
        scrape_id = data["metadata"]["scrapeId"]

        server.turns.add(
            lambda m: [tool_call("fill", ref=find_ref(m, "textbox", "Note"), value=kind)],
            lambda m: [tool_call("click", ref=find_ref(m, "button", "Save"))],
            "Saved it.",
        )
        prompted = server.interact(scrape_id, prompt="Write the provider's name and save.")
        assert prompted.status_code == 200 and prompted.json()["success"], prompted.text
        assert f"Saved {kind}" in prompted.json()["result"]

        for language, code in (
            ("python", "await page.inner_text('#out')"),
            ("node", "await page.innerText('#out')"),
        ):
            ran = server.interact(scrape_id, code=code, language=language).json()
            assert ran["success"] and ran["result"] == f"Saved {kind}", ran
        ran = server.interact(scrape_id, code="agent browser get text '#out'", language="bash")
        assert ran.json()["stdout"].strip() == f"Saved {kind}", ran.text
        assert server.stop_session(scrape_id).status_code == 200


@pytest.mark.parametrize("kind", ["cdp", "playwright"])
def test_profiles_are_saved_and_restored_through_a_remote_context(
    kind: str, cdp_endpoint: str, playwright_endpoint: str, site: str, tmp_path: Path
) -> None:
    settings = ServerSettings(
        browser_endpoints=[_endpoint(kind, cdp_endpoint, playwright_endpoint)],
        profiles_dir=tmp_path / "profiles",
        warm_browsers=0,
    )
    with RunningServer(settings, agent_settings=quick_agent_settings()) as server:
        first = server.scrape_id(f"{site}/form.html", profile={"name": "remote"})
        code = "document.cookie = 'login=yes; max-age=3600'; localStorage.setItem('k', 'v'); 1"
        assert server.interact(first, code=f"await page.evaluate({code!r})").json()["success"]
        assert server.stop_session(first).status_code == 200
        assert "login" in (tmp_path / "profiles" / "remote.json").read_text()
        second = server.scrape_id(f"{site}/form.html", profile={"name": "remote"})
        seen = server.interact(
            second, code="await page.evaluate('document.cookie + localStorage.getItem(\"k\")')"
        ).json()
        assert seen["result"] == "login=yesv", seen
        server.stop_session(second)


def test_a_session_is_continued_and_stopped_through_another_replica(
    replicas: Any, site: str
) -> None:
    a, b = replicas([{"kind": "local"}])
    scrape_id = a.scrape(f"{site}/form.html").json()["data"]["metadata"]["scrapeId"]
    fill = "await page.fill('#note', 'via b'); 'ok'"
    filled = b.interact(scrape_id, code=fill, language="python")
    assert filled.status_code == 200 and filled.json()["result"] == "ok", filled.text
    read = a.interact(scrape_id, code="await page.input_value('#note')", language="python")
    assert read.json()["result"] == "via b"
    assert "cdp/" in b.interact(scrape_id, code="1", language="python").json()["cdpUrl"]
    stopped = b.stop_session(scrape_id)
    assert stopped.status_code == 200, stopped.text
    assert_error(a.interact(scrape_id, code="1", language="python"), 404)


def test_a_profile_has_one_writer_whichever_replica_is_asked(replicas: Any, site: str) -> None:
    a, b = replicas([{"kind": "local"}])
    first = a.scrape(f"{site}/form.html", profile={"name": "shared"})
    assert first.status_code == 200, first.text
    body = assert_error(b.scrape(f"{site}/form.html", profile={"name": "shared"}), 409)
    assert body["code"] == "PROFILE_IN_USE"
    reader = b.scrape(f"{site}/form.html", profile={"name": "shared", "saveChanges": False})
    assert reader.status_code == 200
    a.stop_session(first.json()["data"]["metadata"]["scrapeId"])
    again = b.scrape(f"{site}/form.html", profile={"name": "shared"})
    assert again.status_code == 200, again.text


def test_a_killed_replicas_remote_session_is_taken_over_with_its_page(
    replicas: Any, cdp_endpoint: str, site: str
) -> None:
    a, b = replicas([{"kind": "cdp", "url": cdp_endpoint, "capacity": 4}])
    scrape_id = a.scrape(f"{site}/form.html").json()["data"]["metadata"]["scrapeId"]
    typed = a.interact(scrape_id, code="await page.fill('#note', 'kept'); 'ok'", language="python")
    assert typed.json()["result"] == "ok", typed.text
    a.server.kill()  # SIGKILL: no goodbye, its heartbeat just stops
    read = b.interact(scrape_id, code="await page.input_value('#note')", language="python")
    assert read.status_code == 200, read.text
    assert read.json()["result"] == "kept"
    assert b.stop_session(scrape_id).status_code == 200


def test_two_endpoints_of_capacity_two_take_four_sessions_and_refuse_a_fifth(
    replicas: Any, cdp_endpoint: str, playwright_endpoint: str, site: str
) -> None:
    a, b = replicas(
        [
            {"kind": "cdp", "url": cdp_endpoint, "capacity": 2},
            {"kind": "playwright", "url": playwright_endpoint, "capacity": 2},
        ]
    )
    opened = []
    for replica in (a, b, a, b):
        response = replica.scrape(f"{site}/form.html")
        assert response.status_code == 200, response.text
        opened.append(response.json()["data"]["metadata"]["scrapeId"])
    for replica in (a, b):
        refused = assert_error(replica.scrape(f"{site}/form.html"), 429)
        assert refused["code"] == "TOO_MANY_SESSIONS"
    b.stop_session(opened[0])
    assert a.scrape(f"{site}/form.html").status_code == 200


def test_a_replica_restarted_at_its_url_takes_over_its_predecessors_remote_session(
    replicas: Any, cdp_endpoint: str, site: str
) -> None:
    # One place on the endpoint: a session whose record nobody could end would hold it for good.
    a, b = replicas([{"kind": "cdp", "url": cdp_endpoint, "capacity": 1}])
    scrape_id = a.scrape(f"{site}/form.html").json()["data"]["metadata"]["scrapeId"]
    typed = a.interact(scrape_id, code="await page.fill('#note', 'kept'); 'ok'", language="python")
    assert typed.json()["result"] == "ok", typed.text
    a.restart()  # SIGKILL, then a new process at the same URL
    # B may still see the old heartbeat and forward to the new process, or see it lapsed and
    # take over itself: either way the session goes on with its page, through either replica.
    for replica in (b, a):
        read = replica.interact(
            scrape_id, code="await page.input_value('#note')", language="python"
        )
        assert read.status_code == 200, read.text
        assert read.json()["result"] == "kept"
    assert a.stop_session(scrape_id).status_code == 200
    assert a.scrape(f"{site}/form.html").status_code == 200  # its place is free again


@pytest.mark.parametrize("kind", ["local", "playwright"])
def test_a_replica_restarted_at_its_url_frees_what_its_predecessors_lost_sessions_held(
    kind: str, replicas: Any, cdp_endpoint: str, playwright_endpoint: str, site: str
) -> None:
    # A local browser dies with its replica, a Playwright server closes a gone client's
    # contexts: such sessions are lost, and their profile lease and endpoint place must not be.
    endpoint = {**_endpoint(kind, cdp_endpoint, playwright_endpoint), "capacity": 1}
    (a,) = replicas([endpoint], count=1)
    first = a.scrape(f"{site}/form.html", profile={"name": "restarted"})
    assert first.status_code == 200, first.text
    scrape_id = first.json()["data"]["metadata"]["scrapeId"]
    a.restart()
    deadline = time.monotonic() + 30
    while True:  # the sweep ends the predecessor's session within a few reap intervals
        again = a.scrape(f"{site}/form.html", profile={"name": "restarted"})
        if again.status_code == 200 or time.monotonic() > deadline:
            break
        assert again.status_code in (409, 429), again.text
        time.sleep(0.5)
    assert again.status_code == 200, again.text
    lost = assert_error(a.interact(scrape_id, code="1", language="python"), 410, "replica")
    assert lost["code"] == "SESSION_LOST"


def test_a_forwarded_request_keeps_its_clients_host_and_a_forged_one_is_refused(
    replicas: Any, site: str
) -> None:
    """Replica b serves a's session through a's forwarding, with the Host the client used at b
    (b's own address, a live replica's, so a accepts it); a forged Host is refused at either,
    forwarded marker or not."""
    a, b = replicas([{"kind": "local"}])
    scrape_id = a.scrape(f"{site}/form.html").json()["data"]["metadata"]["scrapeId"]
    links = b.interact(scrape_id, code="1", language="python").json()
    assert links["cdpUrl"].startswith(b.url.replace("http://", "ws://") + "/v2/cdp/"), links
    assert links["liveViewUrl"].startswith(b.url + "/v2/live/"), links
    path = f"/v2/scrape/{scrape_id}/interact"
    code = {"code": "1", "language": "python"}
    forged = {"Host": "evil.example"}
    assert_error(httpx.post(b.url + path, json=code, headers=forged, timeout=60), 400)
    forwarded = {**forged, "x-agent-forwarded": "1"}
    assert_error(httpx.post(a.url + path, json=code, headers=forwarded, timeout=60), 400)
    b.stop_session(scrape_id)
