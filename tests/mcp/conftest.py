"""Fixtures for the MCP server tests: the test site, ``agent mcp`` over stdio, and the HTTP
server with MCP at ``/mcp`` behind an API key, each driven by the official ``mcp`` client."""

from __future__ import annotations

import contextlib
import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from agent.mcp import mount
from agent.server import ServerSettings
from tests.harness import ARTIFACTS, HeldMcpSession, RunningServer, quick_agent_settings, serve_http

SITE = Path(__file__).parent / "site"
REPO = Path(__file__).resolve().parents[2]
API_KEY = "mcp-test-key"
SANDBOX_MEMORY_MB = 3001
CLIENT_MARKER = "AGENT_MCP_TEST_CLIENT"
"""Set in the environment of one ``agent mcp`` process; its browsers inherit it."""


@pytest.fixture(scope="session")
def site() -> Iterator[str]:
    """``tests/mcp/site`` on an ephemeral 127.0.0.1 port."""
    with serve_http(SITE) as url:
        yield url


def stdio_params(marker: str, extra_env: dict[str, str] | None = None) -> StdioServerParameters:
    """``python -m agent mcp`` from this checkout, with the whole environment (the suite's
    leftover-process marker included) plus ``marker``, short timeouts and ``extra_env``."""
    env = {**os.environ, CLIENT_MARKER: marker, "AGENT_ACTION_TIMEOUT": "3", **(extra_env or {})}
    return StdioServerParameters(
        command=sys.executable, args=["-m", "agent", "mcp"], cwd=str(REPO), env=env
    )


@contextlib.asynccontextmanager
async def stdio_transport(
    marker: str, extra_env: dict[str, str] | None = None
) -> AsyncIterator[Any]:
    ARTIFACTS.mkdir(exist_ok=True)
    with (ARTIFACTS / "mcp-stdio.log").open("a") as errlog:
        async with stdio_client(stdio_params(marker, extra_env), errlog=errlog) as streams:
            yield streams


@pytest.fixture(scope="module")
async def stdio() -> AsyncIterator[HeldMcpSession]:
    """One ``agent mcp`` process, with an open client session, for a module's tests."""
    held = await HeldMcpSession(lambda: stdio_transport(uuid.uuid4().hex)).start()
    yield held
    await held.close()


@pytest.fixture(scope="module")
def http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """The HTTP server as ``agent serve`` builds it (MCP mounted at /mcp), with an API key."""
    settings = ServerSettings(
        api_keys=API_KEY,
        profiles_dir=tmp_path_factory.mktemp("profiles"),
        warm_browsers=0,
        reap_interval=0.5,
    )
    with RunningServer(
        settings,
        # A sandbox limit other than the default shows that code calls get the server's settings.
        agent_settings=quick_agent_settings(max_steps=3, sandbox_memory_mb=SANDBOX_MEMORY_MB),
        count_launches=False,
        mounts=[mount],
    ) as running:
        yield running


@contextlib.asynccontextmanager
async def http_transport(url: str, key: str | None = API_KEY) -> AsyncIterator[Any]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    timeout = httpx2.Timeout(30, read=120)
    async with (
        httpx2.AsyncClient(headers=headers, timeout=timeout) as http,
        streamable_http_client(f"{url}/mcp", http_client=http) as streams,
    ):
        yield streams
