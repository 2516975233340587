"""Session lifetime (TTL, inactivity, limits) and named profiles with one writer."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent.service.profiles import file_name
from tests.harness import RunningServer, assert_error, scrape_id_of, wait_until


def test_ttl_and_inactivity_expire_sessions(
    make_server: Callable[..., RunningServer], site: str, profiles_dir: Path
) -> None:
    short = make_server(session_ttl=1.5, activity_ttl=60, reap_interval=0.2)
    idle = make_server(session_ttl=60, activity_ttl=1.5, reap_interval=0.2)
    profile = f"expiring-{uuid.uuid4().hex[:8]}"
    by_ttl = short.scrape_id(f"{site}/storage.html?set=kept", profile={"name": profile})
    by_idle = idle.scrape_id(f"{site}/index.html")

    wait_until(lambda: len(short.registry) == 0 and len(idle.registry) == 0)

    for running, scrape_id, why in ((short, by_ttl, "TTL"), (idle, by_idle, "idle")):
        assert_error(running.interact(scrape_id, prompt="hi"), 404, why)
    saved = json.loads((profiles_dir / f"{profile}.json").read_text())
    assert any(c["name"] == "sid" and c["value"] == "kept" for c in saved["cookies"])


def test_busy_sessions_do_not_expire_for_inactivity(
    make_server: Callable[..., RunningServer], site: str
) -> None:
    running = make_server(activity_ttl=1, reap_interval=0.2)
    scrape_id = running.scrape_id(f"{site}/index.html")
    response = running.interact(
        scrape_id, code="sleep 2; echo still-here", language="bash", timeout=10
    )
    assert response.status_code == 200, response.text
    assert response.json()["stdout"].strip() == "still-here"
    assert running.stop_session(scrape_id).status_code == 200


def test_shutdown_while_an_expired_session_closes_finishes_that_close(
    make_server: Callable[..., RunningServer], site: str
) -> None:
    """Stopping the server while the reaper is closing an expired session must not cut that
    close short: its cleanups (executors, agent-browser's daemon) and its browser would be left
    running, and the Playwright driver with them."""
    running = make_server(activity_ttl=1, reap_interval=0.2)
    scrape_id = running.scrape_id(f"{site}/index.html")
    browser = running.browser_pid(scrape_id)
    closing, closed = threading.Event(), threading.Event()

    async def slow_cleanup() -> None:  # as a session's executors take a moment to end
        closing.set()
        await asyncio.sleep(1.5)
        closed.set()

    running.session(scrape_id).browser_session.add_cleanup(slow_cleanup)
    assert closing.wait(15), "the idle session was not reaped"
    running.stop()
    assert closed.is_set(), "the shutdown cut the expired session's close short"
    wait_until(lambda: not _group_alive(browser), timeout_s=15)


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def test_session_limit_is_429(make_server: Callable[..., RunningServer], site: str) -> None:
    from firecrawl import Firecrawl
    from firecrawl.v2.utils.error_handler import RateLimitError

    running = make_server(max_sessions=1)
    first = running.scrape_id(f"{site}/other.html")
    with pytest.raises(RateLimitError, match="Too many browser sessions"):
        Firecrawl(api_url=running.url, api_key="k").scrape(f"{site}/other.html")
    running.stop_session(first)
    running.stop_session(running.scrape_id(f"{site}/other.html"))  # room again


def test_profile_written_in_one_session_is_read_in_the_next(
    server: RunningServer, site: str, profiles_dir: Path
) -> None:
    name = f"alice-{uuid.uuid4().hex[:8]}"
    writer = server.scrape_id(
        f"{site}/storage.html?set=abc", profile={"name": name, "saveChanges": True}
    )

    # A second writer is refused while the first holds the profile; a reader is not.
    conflict = server.scrape(f"{site}/storage.html", profile={"name": name})
    assert_error(conflict, 409, "already open")
    reader = server.scrape(f"{site}/storage.html", profile={"name": name, "saveChanges": False})
    assert "token=none" in reader.json()["data"]["markdown"]  # nothing saved yet
    server.stop_session(scrape_id_of(reader))

    assert server.stop_session(writer).status_code == 200
    path = profiles_dir / f"{name}.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not list(profiles_dir.glob(f".{name}.*.tmp")), "no temporary file is left"

    later = server.scrape(f"{site}/storage.html", profile={"name": name, "saveChanges": False})
    later_id = scrape_id_of(later)
    assert "token=abc cookie=sid=abc" in later.json()["data"]["markdown"]
    server.evaluate(later_id, "localStorage.setItem('token', 'changed-by-reader')")
    before = path.read_text()
    server.stop_session(later_id)
    assert path.read_text() == before, "saveChanges: false never writes the profile"

    again = server.scrape(f"{site}/storage.html", profile={"name": name})  # writer again
    assert "token=abc" in again.json()["data"]["markdown"]
    server.stop_session(scrape_id_of(again))


def test_profile_via_the_sdk(firecrawl: Any, site: str) -> None:
    from firecrawl.v2.utils.error_handler import FirecrawlError

    name = f"sdk-{uuid.uuid4().hex[:8]}"
    doc = firecrawl.scrape(
        f"{site}/storage.html?set=xyz", profile={"name": name, "saveChanges": True}
    )
    with pytest.raises(FirecrawlError) as caught:
        firecrawl.scrape(f"{site}/storage.html", profile={"name": name, "saveChanges": True})
    assert caught.value.status_code == 409
    firecrawl.stop_interaction(doc.metadata.scrape_id)
    doc = firecrawl.scrape(f"{site}/storage.html", profile={"name": name, "saveChanges": False})
    firecrawl.stop_interaction(doc.metadata.scrape_id)
    assert "token=xyz" in doc.markdown


def test_a_profile_name_with_at_and_slash_round_trips_inside_the_profiles_folder(
    firecrawl: Any, site: str, profiles_dir: Path
) -> None:
    """Firecrawl takes any 1-128 characters as a name; this one is stored under a file name
    derived from it, in the profiles folder itself, and loads back."""
    tag = uuid.uuid4().hex[:8]
    name = f"team-{tag}/user@example.com"
    doc = firecrawl.scrape(f"{site}/storage.html?set={tag}", profile={"name": name})
    firecrawl.stop_interaction(doc.metadata.scrape_id)
    stored = profiles_dir / file_name(name)
    assert stored.parent == profiles_dir and stored.name.startswith(f"team-{tag}_user_example_com~")
    assert tag in stored.read_text()
    assert not [p for p in profiles_dir.iterdir() if p.is_dir()], "no folder came of the slash"

    doc = firecrawl.scrape(f"{site}/storage.html", profile={"name": name, "saveChanges": False})
    firecrawl.stop_interaction(doc.metadata.scrape_id)
    assert f"token={tag} cookie=sid={tag}" in doc.markdown
