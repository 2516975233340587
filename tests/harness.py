"""The test harness: local sites over HTTP, the real server in a thread, a scripted model's turns,
the one assertion of the server's error shape, and an MCP client session shared by tests.

Every test that needs a page serves it with :func:`serve_http`; every test that talks to the
server starts it as a :class:`RunningServer` (uvicorn on an ephemeral loopback port, its own
event loop in a thread, exactly as ``agent serve`` runs it) and checks its failures with
:func:`assert_error`.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import os
import signal
import socket
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, contextmanager
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol, TypeVar

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from mcp import ClientSession
from mcp.types import CallToolResult, TextContent

from agent.browser import grammar
from agent.browser.box import BoxOptions
from agent.browser.session import BrowserSession
from agent.config import Settings
from agent.errors import ConfigError
from agent.executors.agent_browser import agent_browser_binary
from agent.messages import Message, ToolSpec, UserMessage
from agent.models import ScriptedModel, ScriptStep
from agent.models.base import Model
from agent.server import ServerSettings, SessionFactory, create_app
from agent.server.errors import STATUS
from agent.service.browsers import ServedBrowserSession

__all__ = [
    "ARTIFACTS",
    "MISSING_ID",
    "HeldMcpSession",
    "LaunchCounter",
    "PageHandler",
    "RunningServer",
    "Turn",
    "Turns",
    "agent_config",
    "assert_error",
    "find_ref",
    "free_port",
    "in_ci",
    "latest_observation",
    "quick_agent_settings",
    "require_agent_browser",
    "scrape_id_of",
    "serve_hanging",
    "serve_http",
    "wait_until",
]

T = TypeVar("T")

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
"""Where tests leave screenshots and reports for a human to look at."""

MISSING_ID = "00000000-0000-4000-8000-000000000000"
"""A well-formed scrape id no server ever handed out."""


# --- local sites -------------------------------------------------------------------------------


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class PageHandler(BaseHTTPRequestHandler):
    """Base of a test site's handler (for :func:`serve_http`): quiet, with ``send_page``."""

    def send_page(self, code: int, body: str | bytes, kind: str = "text/html") -> None:
        """Answer with a whole body of type ``kind`` (UTF-8)."""
        data = body.encode() if isinstance(body, str) else body
        self.send_response(code)
        self.send_header("Content-Type", f"{kind}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def free_port() -> int:
    """A loopback port nothing listens on (it was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_http(content: Path | type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve a folder's files, or answer with a handler class, on an ephemeral 127.0.0.1 port.

    Yields the base URL, ``http://127.0.0.1:PORT`` (no trailing slash); the server is shut down
    when the block ends.
    """
    if isinstance(content, Path):
        handler: Callable[..., BaseHTTPRequestHandler] = functools.partial(
            _QuietFiles, directory=str(content)
        )
    else:
        handler = content
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@contextmanager
def serve_hanging(handler: type[BaseHTTPRequestHandler], release: threading.Event) -> Iterator[str]:
    """``serve_http(handler)`` for a handler whose requests may wait on ``release``: it is set
    at the end, so their threads can end."""
    release.clear()
    with serve_http(handler) as url:
        try:
            yield url
        finally:
            release.set()


def agent_config(monkeypatch: pytest.MonkeyPatch, folder: Path, text: str) -> Path:
    """``folder/agent.toml`` holding ``text``, made the file ``AGENT_CONFIG`` names."""
    path = folder / "agent.toml"
    path.write_text(text)
    monkeypatch.setenv("AGENT_CONFIG", str(path))
    return path


def wait_until(
    condition: Callable[[], bool], timeout_s: float = 10, interval_s: float = 0.1
) -> None:
    """Poll ``condition`` until it holds; fail when it still does not after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(interval_s)


# --- what the suite needs installed --------------------------------------------------------------


def in_ci() -> bool:
    """Whether this run is CI's: ``CI`` is set to anything but empty, 0, false or no (CI
    services set ``CI=true``, and so does ``.ci/run``)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_agent_browser() -> Path:
    """The agent-browser binary. When its npm package is not installed, the calling test is
    skipped with the reason on a developer's machine, and fails in CI, which installs it
    (``.ci/setup``): there a missing package is a broken setup, never a pass."""
    try:
        return agent_browser_binary()
    except ConfigError as missing:
        if in_ci():
            pytest.fail(f"CI must test agent-browser: {missing}", pytrace=False)
        pytest.skip(f"{missing} (bash .ci/setup installs it)")


# --- the server's error shape ------------------------------------------------------------------


class _Response(Protocol):
    """An HTTP response of httpx or requests."""

    @property
    def status_code(self) -> int: ...

    @property
    def text(self) -> str: ...

    def json(self) -> Any: ...


def assert_error(
    response: _Response, status: int | tuple[int, ...], *fragments: str
) -> dict[str, Any]:
    """The response is a failure in the server's one error shape; returns its body.

    ``{"success": false, "error": str, "code": str, "details"?: ...}``: the status is ``status``
    (or one of them), the code is a known one whose one status (``STATUS``) is the response's,
    the error is a non-empty message holding each of ``fragments``, and no traceback leaks.
    """
    wanted = (status,) if isinstance(status, int) else status
    assert response.status_code in wanted, f"{response.status_code}: {response.text[:500]}"
    body = response.json()
    assert isinstance(body, dict), body
    assert body.get("success") is False, body
    assert set(body) <= {"success", "error", "code", "details"}, body
    assert isinstance(body.get("error"), str) and body["error"].strip(), body
    code = body.get("code")
    assert code in STATUS, f"unknown error code {code!r}: {body}"
    assert STATUS[code] == response.status_code, (
        f"{code} answers {STATUS[code]}, not {response.status_code}: {body}"
    )
    assert "Traceback" not in response.text
    for fragment in fragments:
        assert fragment in body["error"], body["error"]
    return body


# --- the scripted model ------------------------------------------------------------------------


Turn = ScriptStep | Callable[[Sequence[Message]], "ScriptStep | Awaitable[ScriptStep]"]


class Turns:
    """The scripted model's answers, in order; a turn may be an (async) function of the messages
    so far, so it can read refs from the observation. Tests queue more with ``add``.

    Asked with nothing queued, the model answers "Nothing to do.", or, for ``Turns.strict``,
    fails the test: the model was asked more often than scripted.
    """

    def __init__(self, *turns: Turn) -> None:
        self.queue: deque[Turn] = deque(turns)
        self.asked = 0
        self.fail_when_empty = False

    @classmethod
    def strict(cls, *turns: Turn) -> Turns:
        """Exactly these turns: one request more fails the test."""
        scripted = cls(*turns)
        scripted.fail_when_empty = True
        return scripted

    def add(self, *turns: Turn) -> None:
        self.queue.extend(turns)

    def clear(self) -> None:
        self.queue.clear()

    async def __call__(self, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> ScriptStep:
        self.asked += 1
        if not self.queue:
            if self.fail_when_empty:
                raise AssertionError(f"the model was asked {self.asked} times; scripted less")
            return "Nothing to do."
        turn = self.queue.popleft()
        if callable(turn):
            answer = turn(messages)
            return await answer if inspect.isawaitable(answer) else answer
        return turn


def latest_observation(messages: Sequence[Message]) -> str:
    """The newest observation the model was shown (a user message with the page snapshot)."""
    for message in reversed(messages):
        if isinstance(message, UserMessage) and "# Snapshot" in message.content:
            return message.content
    raise AssertionError("no observation was sent")


def find_ref(messages: Sequence[Message], role: str, name: str) -> str:
    """The ref of ``role "name"`` in the newest observation that shows one, like ``@e7``."""
    for message in reversed(messages):
        if isinstance(message, UserMessage):
            found = grammar.find_ref(message.content, role, name)
            if found:
                return found
    raise AssertionError(f'no {role} "{name}" in any observation')


# --- the server --------------------------------------------------------------------------------


def quick_agent_settings(**overrides: Any) -> Settings:
    """Short timeouts so a fault shows within seconds; never reads a developer's config."""
    values: dict[str, Any] = {
        "action_timeout": 3,
        "navigation_timeout": 10,
        "max_steps": 4,
        "model_timeout": 5,
        "model_retries": 1,
    }
    values.update(overrides)
    return Settings(**values)


class LaunchCounter:
    """A session factory that starts a real local Chromium, boxed as ``agent serve`` boxes it
    (``egress``: with its egress checkpoint, as when private addresses are blocked), and counts
    how often it did."""

    def __init__(self, agent_settings: Settings, *, egress: bool = False) -> None:
        self.agent_settings = agent_settings
        self.box = BoxOptions.from_settings(agent_settings, egress=egress)
        self.launches = 0

    async def __call__(self) -> BrowserSession:
        self.launches += 1
        return await ServedBrowserSession.start(
            action_timeout_s=self.agent_settings.action_timeout,
            navigation_timeout_s=self.agent_settings.navigation_timeout,
            box=self.box,
        )


def scrape_id_of(response: httpx.Response) -> str:
    """The ``scrapeId`` of a scrape that must have succeeded."""
    assert response.status_code == 200, response.text
    return str(response.json()["data"]["metadata"]["scrapeId"])


class RunningServer:
    """``create_app`` served by uvicorn in a thread on an ephemeral 127.0.0.1 port; it runs from
    construction until ``stop()`` (or the end of a ``with`` block).

    Args:
        settings: the server's settings.
        model: the model prompts go to; by default a ScriptedModel answering from ``turns``.
        scripted: with no ``model``, False builds the model from ``agent_settings`` as
            ``agent serve`` does (with no model configured there: a 503 CONFIG_ERROR).
        agent_settings: the agent's settings (default :func:`quick_agent_settings`).
        session_factory: starts a session's browser; by default a :class:`LaunchCounter`, or,
            with ``count_launches=False``, exactly what ``agent serve`` starts browsers with.
        log_level: uvicorn's.
        mounts: what else to serve on the app before it starts, as ``agent serve`` does
            (``agent.mcp.mount`` for the MCP server at ``/mcp``).
    """

    def __init__(
        self,
        settings: ServerSettings,
        *,
        model: Model | None = None,
        agent_settings: Settings | None = None,
        session_factory: SessionFactory | None = None,
        count_launches: bool = True,
        scripted: bool = True,
        log_level: str = "warning",
        mounts: Sequence[Callable[[FastAPI], None]] = (),
    ) -> None:
        self.settings = settings
        self.agent_settings = agent_settings or quick_agent_settings()
        self.turns = Turns()
        self.model = model or (ScriptedModel(self.turns) if scripted else None)
        self.launcher: SessionFactory | None = session_factory
        if session_factory is None and count_launches:
            self.launcher = LaunchCounter(
                self.agent_settings, egress=settings.block_private_addresses
            )
        self.app = create_app(
            settings,
            agent_settings=self.agent_settings,
            model=self.model,
            session_factory=self.launcher,
        )
        for mount in mounts:
            mount(self.app)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(self.app, log_level=log_level, lifespan="on")
        self.server = uvicorn.Server(config)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread = threading.Thread(target=asyncio.run, args=(self._serve(sock),), daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)

    async def _serve(self, sock: socket.socket) -> None:
        self.loop = asyncio.get_running_loop()
        await self.server.serve(sockets=[sock])

    @property
    def registry(self) -> Any:
        return self.app.state.server.registry

    @property
    def launches(self) -> int:
        """Browsers started so far; -1 when they are not counted."""
        if not isinstance(self.launcher, LaunchCounter):
            return -1
        return self.launcher.launches

    def run(self, coroutine: Coroutine[Any, Any, T], timeout_s: float = 60) -> T:
        """Run a coroutine on the server's own event loop (where its sessions live)."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=timeout_s)

    def session(self, scrape_id: str) -> Any:
        """The registry's session for a scrape id, bypassing the API."""
        return self.registry.get(scrape_id)

    def evaluate(self, scrape_id: str, expression: str) -> Any:
        """Evaluate JavaScript in a session's page, bypassing the API."""
        return self.run(self.session(scrape_id).browser_session.page.evaluate(expression))

    def browser_pid(self, scrape_id: str) -> int:
        return int(self.session(scrape_id).browser_session.pid)

    def kill_browser(self, scrape_id: str) -> None:
        """SIGKILL the session's whole Chromium process group: a browser crash. Returns once
        the browser is gone as the server sees it: in a box, Chromium dies a moment after the
        group (with its box), and a call in between would still reach it."""
        browser = self.session(scrape_id).browser_session
        os.killpg(self.browser_pid(scrape_id), signal.SIGKILL)
        deadline = time.monotonic() + 30
        while browser.alive and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not browser.alive, "the killed browser still answers after 30 s"

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        kwargs.setdefault("timeout", 120)
        return httpx.post(f"{self.url}{path}", **kwargs)

    def scrape(self, url: str, **options: Any) -> httpx.Response:
        return self.post("/v2/scrape", json={"url": url, **options})

    def scrape_id(self, url: str, **options: Any) -> str:
        """Scrape ``url``, which must succeed, and return the session's id."""
        return scrape_id_of(self.scrape(url, **options))

    def interact(self, scrape_id: str, **body: Any) -> httpx.Response:
        return self.post(f"/v2/scrape/{scrape_id}/interact", json=body)

    def run_code(
        self, scrape_id: str, code: str, language: str, *, timeout: int = 30
    ) -> dict[str, Any]:
        """Run ``code`` in the session, which must answer 200; its reply's JSON."""
        response = self.interact(scrape_id, code=code, language=language, timeout=timeout)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def stop_session(self, scrape_id: str) -> httpx.Response:
        return httpx.delete(f"{self.url}/v2/scrape/{scrape_id}/interact", timeout=60)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=90)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# --- an MCP client -----------------------------------------------------------------------------


class HeldMcpSession:
    """An official MCP ``ClientSession`` kept open by a task of its own, so that many tests (each
    its own task) can share one connection: the SDK's anyio scopes must be entered and left in
    one task.

    Args:
        connect: opens the transport (``stdio_client(...)``, or a Streamable HTTP client) and
            yields its read and write streams.
    """

    def __init__(self, connect: Callable[[], AbstractAsyncContextManager[Any]]) -> None:
        self._connect = connect
        self._stop = asyncio.Event()
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.session: ClientSession | None = None

    async def start(self) -> HeldMcpSession:
        self._task = asyncio.create_task(self._hold())
        ready = asyncio.create_task(self._ready.wait())
        await asyncio.wait({self._task, ready}, return_when=asyncio.FIRST_COMPLETED)
        if not self._ready.is_set():
            ready.cancel()
            await self._task  # raises why the connection failed
        return self

    async def _hold(self) -> None:
        async with self._connect() as streams, ClientSession(streams[0], streams[1]) as session:
            await session.initialize()
            self.session = session
            self._ready.set()
            await self._stop.wait()

    async def call(self, name: str, **arguments: Any) -> CallToolResult:
        """Call a tool; the result as the client received it."""
        assert self.session is not None, "start() the session first"
        return await self.session.call_tool(name, arguments)

    async def text(self, name: str, **arguments: Any) -> str:
        """Call a tool that must succeed; its text."""
        result = await self.call(name, **arguments)
        text = "\n".join(c.text for c in result.content if isinstance(c, TextContent))
        assert not result.is_error, f"{name} failed: {text}"
        return text

    async def error(self, name: str, **arguments: Any) -> str:
        """Call a tool that must fail with an error result; its message."""
        result = await self.call(name, **arguments)
        text = "\n".join(c.text for c in result.content if isinstance(c, TextContent))
        assert result.is_error, f"{name} did not fail: {text}"
        return text

    async def close(self) -> None:
        """End the session and its transport (stdio: stdin closes; HTTP: DELETE)."""
        self._stop.set()
        if self._task is not None:
            await self._task
