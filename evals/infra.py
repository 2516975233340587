"""Real infrastructure on loopback, started and stopped by benchmarks and tests: a Chromium with a
DevTools port (a ``cdp`` endpoint), a Playwright browser server (a ``playwright`` endpoint),
``redis-server``, and ``agent serve`` replicas. Each runs in a process group of its own, ended
with its whole group."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import httpx

from agent.browser.launch import QUIET_FLAGS, find_chromium
from agent.errors import ConfigError
from agent.executors.node_deps import ensure_node_deps

__all__ = [
    "Process",
    "Replica",
    "answers",
    "cdp_chromium",
    "free_port",
    "playwright_server",
    "redis_server",
    "wait_until",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout_s:g} s for {what}")
        time.sleep(0.05)


class Process:
    """A child process in its own process group, ended with the whole group."""

    def __init__(self, argv: list[str], *, env: dict[str, str] | None = None, **kwargs: Any):
        self.process = subprocess.Popen(
            argv,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            **kwargs,
        )

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        try:
            os.killpg(self.process.pid, sig)
        except ProcessLookupError:
            pass
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def answers(url: str) -> bool:
    """Whether ``url`` answers a GET with 200 within 2 s."""
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def cdp_chromium() -> Iterator[str]:
    """A Chromium listening for DevTools on a loopback port; yields ``http://127.0.0.1:PORT``."""
    profile = tempfile.mkdtemp(prefix="agent-remote-chromium-")
    port = free_port()
    chromium = Process(
        [
            find_chromium(), *QUIET_FLAGS, "--headless=new", f"--remote-debugging-port={port}",
            "--remote-debugging-address=127.0.0.1", f"--user-data-dir={profile}", "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: answers(f"{url}/json/version"), 30, "the remote Chromium to listen")
        yield url
    finally:
        chromium.kill()
        shutil.rmtree(profile, ignore_errors=True)


@contextmanager
def playwright_server() -> Iterator[str]:
    """A Playwright browser server (``launchServer``) on Debian's Chromium; yields its URL."""
    if shutil.which("node") is None:
        raise ConfigError("node is needed for a Playwright browser server")
    script = (
        "require('playwright-core').chromium.launchServer({executablePath: process.argv[1], "
        "headless: true, host: '127.0.0.1', args: ['--no-sandbox', '--disable-gpu']})"
        ".then((server) => console.log(server.wsEndpoint()))"
    )
    server = Process(
        ["node", "-e", script, find_chromium()],
        cwd=str(ensure_node_deps()),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.process.stdout is not None
        endpoint = server.process.stdout.readline().strip()
        if not endpoint.startswith("ws://"):
            raise RuntimeError(f"the Playwright browser server said {endpoint!r}")
        yield endpoint
    finally:
        server.kill(signal.SIGTERM)


@contextmanager
def redis_server() -> Iterator[str]:
    """``redis-server`` on a free loopback port, nothing saved; yields ``redis://...``."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise ConfigError("redis-server is not installed: `apt-get install redis-server`")
    port = free_port()
    redis = Process(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: _redisanswers(port), 20, "redis-server to listen")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        redis.kill(signal.SIGTERM)


def _redisanswers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class Replica:
    """``agent serve`` in a child process, as one replica of a deployment."""

    def __init__(
        self,
        *,
        redis_url: str,
        endpoints: list[dict[str, Any]],
        profiles: Path,
        log: Path,
        env: dict[str, str] | None = None,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log: IO[bytes] = log.open("ab")
        self._settings = {
            "AGENT_REDIS_URL": redis_url,
            "AGENT_BROWSER_ENDPOINTS": json.dumps(endpoints),
            "AGENT_PROFILES_DIR": str(profiles),
            "AGENT_WARM_BROWSERS": "0",
            "AGENT_REAP_INTERVAL": "1",
            **(env or {}),
        }
        self.server = self._start()

    def _start(self) -> Process:
        server = Process(
            [sys.executable, "-m", "agent", "serve", "--port", str(self.port)],
            env=self._settings,
            stdout=self._log,
            stderr=self._log,
        )
        wait_until(lambda: answers(f"{self.url}/health"), 60, f"the replica at {self.url}")
        return server

    def restart(self) -> None:
        """Start a new process at the same URL, the old one being killed first if it runs (as
        a supervisor restarts a replica that crashed)."""
        if self.server.alive:
            self.server.kill()
        self.server = self._start()

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return httpx.post(self.url + path, json=body, timeout=120)

    def scrape(self, url: str, **options: Any) -> httpx.Response:
        return self.post("/v2/scrape", {"url": url, **options})

    def interact(self, scrape_id: str, **body: Any) -> httpx.Response:
        return self.post(f"/v2/scrape/{scrape_id}/interact", body)

    def stop_session(self, scrape_id: str) -> httpx.Response:
        return httpx.delete(f"{self.url}/v2/scrape/{scrape_id}/interact", timeout=60)

    def stop(self) -> None:
        if self.server.alive:
            self.server.kill(signal.SIGTERM)
        self._log.close()
