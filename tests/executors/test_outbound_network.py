"""Code with outbound network on (``AGENT_SANDBOX_OUTBOUND_NETWORK``): its box shares the host's
network, so nothing in it may listen on a host port that other local users could open; the
session's DevTools still reach agent-browser, through the session's token-guarded port, and
``agent browser`` still reaches the session, through its socket."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest

from agent.browser import launch_browser
from agent.browser.session import BrowserSession
from agent.config import Settings
from agent.errors import ConfigError
from agent.executors import run_code
from agent.executors.agent_browser import agent_browser_binary
from agent.executors.sandbox import BOX_CDP_PORT, BOX_RPC_PORT

try:
    agent_browser_binary()
except ConfigError as missing:  # pragma: no cover - .ci/setup installs it
    pytest.skip(f"agent-browser is not installed: {missing}", allow_module_level=True)


@pytest.fixture
async def fresh_session() -> AsyncIterator[BrowserSession]:
    """A session of its own: its executors take this test's settings."""
    session = BrowserSession(await launch_browser())
    yield session
    await session.close()


def _host_port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


async def test_a_box_on_the_hosts_network_listens_on_no_host_port(
    fresh_session: BrowserSession, site: str
) -> None:
    settings = Settings(sandbox="bwrap", sandbox_outbound_network=True)
    await fresh_session.goto(f"{site}/search.html")
    assert not _host_port_open(BOX_CDP_PORT)
    outcome = await run_code(
        fresh_session, "agent-browser get url", "bash", timeout_s=60, settings=settings
    )
    assert outcome.success, outcome
    assert outcome.stdout.strip() == f"{site}/search.html"
    # The box is up and agent-browser attached, yet the host's 9222 is still closed.
    assert not _host_port_open(BOX_CDP_PORT), "the box opened a DevTools port on the host"


async def test_a_box_on_the_hosts_network_opens_no_agent_browser_port(
    fresh_session: BrowserSession, site: str
) -> None:
    # In a box of its own network, `agent browser` reaches the session's socket through a port
    # of the box's loopback; on the host's network that port would be every local user's.
    settings = Settings(sandbox="bwrap", sandbox_outbound_network=True)
    await fresh_session.goto(f"{site}/search.html")
    outcome = await run_code(
        fresh_session, "agent browser get url", "bash", timeout_s=60, settings=settings
    )
    assert outcome.success, outcome
    assert outcome.stdout.strip() == f"{site}/search.html"
    assert not _host_port_open(BOX_RPC_PORT), "the box opened its agent browser port on the host"
