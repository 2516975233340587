"""``agent-browser`` through the HTTP API: Firecrawl's documented flow (``snapshot -i``, then
``fill`` and ``click`` by its refs) with Firecrawl's own SDK; a failed command is a failed call
that leaves the session usable; and its daemon ends with the session however the session ends
(stopped, expired, its browser crashed), sandboxed or not.

The daemons are found with the suite's own leftover check (``tests.conftest``), which sees
sandboxed processes too: what these tests wait to see gone is what would fail the suite.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent.config import Settings
from tests import conftest
from tests.harness import RunningServer, assert_error, wait_until

pytestmark = pytest.mark.usefixtures("agent_browser")

_REF_LINE = re.compile(r'- (\w+) "([^"]*)"[^\n]*?ref=(e\d+)')


def refs_in(listing: str) -> dict[str, str]:
    """``{name: "@eN"}`` from agent-browser's ``snapshot -i`` output."""
    return {name: f"@{ref}" for _role, name, ref in _REF_LINE.findall(listing)}


def agent_browser_processes() -> set[int]:
    """This test run's live agent-browser processes, sandboxed ones included."""
    return {
        pid
        for pid, command in conftest._marked_processes().items()
        if Path(command).name.startswith("agent-browser")
    }


# -- the documented flow, with Firecrawl's SDK ---------------------------------------------------


def test_snapshot_then_fill_and_click_by_its_refs(
    firecrawl: Any, server: RunningServer, scraped: str
) -> None:
    listing = firecrawl.interact(scraped, code="agent-browser snapshot -i", language="bash")
    assert listing.success is True and listing.exit_code == 0, listing
    refs = refs_in(listing.stdout)
    assert {"Name", "Increment"} <= set(refs), listing.stdout

    # The next call uses the refs of the last one: its daemon kept them.
    done = firecrawl.interact(
        scraped,
        code=f'agent-browser fill {refs["Name"]} "x" && agent-browser click {refs["Increment"]}',
        language="bash",
    )
    assert done.success is True and done.exit_code == 0 and done.killed is False, done
    assert done.stdout.count("Done") == 2, done.stdout
    assert server.evaluate(scraped, "document.querySelector('#name').value") == "x"
    assert server.evaluate(scraped, "document.querySelector('#echo').textContent") == "Echo: x"
    assert server.evaluate(scraped, "document.querySelector('#count').textContent") == "Count: 1"


def test_a_failed_command_fails_the_call_and_the_session_goes_on(
    firecrawl: Any, server: RunningServer, scraped: str, site: str
) -> None:
    from firecrawl.v2.utils.error_handler import FirecrawlError

    response = server.interact(scraped, code="agent-browser click @e999", language="bash")
    assert response.status_code == 200, response.text
    failed = response.json()
    assert failed["success"] is False and failed["exitCode"] == 1 and failed["killed"] is False
    assert "Unknown ref" in failed["stderr"] and "e999" in failed["stderr"], failed
    assert not failed["stdout"].strip()
    assert "exit code 1" in failed["error"] and "Unknown ref" in failed["error"]
    # The SDK raises with that message.
    with pytest.raises(FirecrawlError, match="Unknown ref"):
        firecrawl.interact(scraped, code="agent-browser click @e999", language="bash")

    # The same session, its browser and its agent-browser, still work.
    url = firecrawl.interact(scraped, code="agent-browser get url", language="bash")
    assert url.stdout.strip() == f"{site}/index.html"
    refs = refs_in(
        firecrawl.interact(scraped, code="agent-browser snapshot -i", language="bash").stdout
    )
    clicked = firecrawl.interact(
        scraped, code=f"agent-browser click {refs['Increment']}", language="bash"
    )
    assert clicked.success is True, clicked
    assert server.evaluate(scraped, "document.querySelector('#count').textContent") == "Count: 1"


# -- its daemon ends with the session -------------------------------------------------------------


@pytest.fixture(params=["bwrap", None], ids=["sandboxed", "direct"])
def start_server(
    request: pytest.FixtureRequest, make_server: Callable[..., RunningServer]
) -> Callable[..., RunningServer]:
    """Start a server whose code runs sandboxed or directly; stopped after the test."""
    agent_settings = Settings(action_timeout=3, navigation_timeout=15, sandbox=request.param)

    def start(**settings: Any) -> RunningServer:
        return make_server(agent_settings=agent_settings, **settings)

    return start


def _daemons_after_use(running: RunningServer, scrape_id: str) -> set[int]:
    """Run agent-browser in the session; the agent-browser processes it left running (its
    daemon), which the suite's leftover check sees."""
    before = agent_browser_processes()
    reply = running.interact(scrape_id, code="agent-browser snapshot -i", language="bash")
    assert reply.status_code == 200 and reply.json()["success"] is True, reply.text
    assert 'button "Increment"' in reply.json()["stdout"]
    daemons = agent_browser_processes() - before
    assert daemons, "agent-browser left no daemon to end: the test would prove nothing"
    return daemons


def _assert_ended(daemons: set[int]) -> None:
    wait_until(lambda: not daemons & agent_browser_processes(), timeout_s=15, interval_s=0.05)


def test_stopping_the_session_ends_its_daemon(
    start_server: Callable[..., RunningServer], site: str
) -> None:
    running = start_server()
    scrape_id = running.scrape_id(f"{site}/index.html")
    daemons = _daemons_after_use(running, scrape_id)
    assert running.stop_session(scrape_id).status_code == 200
    _assert_ended(daemons)


def test_an_idle_session_expiring_ends_its_daemon(
    start_server: Callable[..., RunningServer], site: str
) -> None:
    running = start_server(activity_ttl=2, reap_interval=0.2)
    scrape_id = running.scrape_id(f"{site}/index.html")
    daemons = _daemons_after_use(running, scrape_id)
    wait_until(lambda: len(running.registry) == 0, timeout_s=15)
    _assert_ended(daemons)
    assert_error(running.interact(scrape_id, code="true", language="bash"), 404, "idle")


def test_a_crashed_browser_ends_its_daemon(
    start_server: Callable[..., RunningServer], site: str
) -> None:
    running = start_server()
    scrape_id = running.scrape_id(f"{site}/index.html")
    daemons = _daemons_after_use(running, scrape_id)
    running.kill_browser(scrape_id)
    # The next call finds the browser gone: 410, and the session is closed.
    lost = running.interact(scrape_id, code="agent-browser get url", language="bash")
    assert_error(lost, 410)
    _assert_ended(daemons)
    assert len(running.registry) == 0
