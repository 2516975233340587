"""The reliability harness: a real server in a thread, a hostile local site, helpers.

It follows ``tests/server/server_harness.py`` (uvicorn on an ephemeral loopback port, its own
event loop in a thread) but lets a test choose the model (a real backend pointed at the fake
provider, or a scripted one), the agent settings and the session factory, and counts browser
launches, so a test can prove that hostile input never reached a browser.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import signal
import socket
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

import httpx
import uvicorn

from agent.browser.session import BrowserSession
from agent.config import Settings
from agent.messages import Message, ToolSpec
from agent.models import ScriptedModel, ScriptStep
from agent.models.base import Model
from agent.server import ServerSettings, SessionFactory, create_app
from agent.server.scrape import ServedBrowserSession

T = TypeVar("T")

MISSING_ID = "00000000-0000-4000-8000-000000000000"

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Reliability page</title></head><body><main>
<h1>Reliability page</h1><p id="out">loading</p>
<label>Name <input id="name" name="name"></label><button id="go">Go</button>
</main><script>
const wanted = new URLSearchParams(location.search).get("set");
if (wanted) {
  localStorage.setItem("token", wanted);
  document.cookie = "sid=" + wanted + "; max-age=3600; path=/";
}
const cookie = document.cookie.split("; ").find((c) => c.startsWith("sid=")) || "sid=none";
document.getElementById("out").textContent =
  "token=" + (localStorage.getItem("token") || "none") + " " + cookie;
</script></body></html>"""

# The document answers at once but one image never does, so the load event never fires.
HANGING_SUBRESOURCE = """<!doctype html><html><head><title>Half loaded</title></head>
<body><p>text is here</p><img src="/hang.png"></body></html>"""

# Loads, then keeps the page's main thread busy for good: nothing after loading can finish.
BUSY_AFTER_LOAD = """<!doctype html><html><head><title>Busy</title></head>
<body><p>spinning</p><script>
addEventListener("load", () => setTimeout(() => { for (;;) {} }, 50));
</script></body></html>"""


class HostileSite(BaseHTTPRequestHandler):
    """``/page`` (``?set=X`` stores X in a cookie and localStorage), ``/hang`` (never answers),
    ``/hang-subresource`` (answers, but its image never does), ``/busy`` (loads, then spins)."""

    protocol_version = "HTTP/1.0"
    release = threading.Event()  # set at teardown so hanging handler threads can end

    def do_GET(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        if path.startswith("/hang") and path != "/hang-subresource":
            self.release.wait(120)  # never answers within any test's timeout
            return
        body = {"/hang-subresource": HANGING_SUBRESOURCE, "/busy": BUSY_AFTER_LOAD}.get(path, PAGE)
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve_site() -> Iterator[str]:
    """The hostile site on an ephemeral loopback port; yields its base URL."""
    HostileSite.release.clear()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), HostileSite)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        HostileSite.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


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
    """A session factory that starts a real local Chromium and counts how often it did."""

    def __init__(self, agent_settings: Settings) -> None:
        self.agent_settings = agent_settings
        self.launches = 0

    async def __call__(self) -> BrowserSession:
        self.launches += 1
        return await ServedBrowserSession.start(
            action_timeout_s=self.agent_settings.action_timeout,
            navigation_timeout_s=self.agent_settings.navigation_timeout,
        )


class LiveServer:
    """``create_app`` served by uvicorn in a thread on an ephemeral 127.0.0.1 port."""

    def __init__(
        self,
        settings: ServerSettings,
        *,
        model: Model | None = None,
        agent_settings: Settings | None = None,
        session_factory: SessionFactory | None = None,
        log_level: str = "warning",
        default_factory: bool = False,
    ) -> None:
        self.settings = settings
        self.agent_settings = agent_settings or quick_agent_settings()
        self.turns = Turns()
        self.model = model or ScriptedModel(self.turns)
        self.launcher = session_factory or LaunchCounter(self.agent_settings)
        self._default_factory = default_factory
        self.app = create_app(
            settings,
            agent_settings=self.agent_settings,
            model=self.model,
            # default_factory: exactly what `agent serve` starts browsers with (uncounted)
            session_factory=None if default_factory else self.launcher,
        )
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
        if self._default_factory or not isinstance(self.launcher, LaunchCounter):
            return -1
        return self.launcher.launches

    def run(self, coroutine: Coroutine[Any, Any, T], timeout_s: float = 60) -> T:
        """Run a coroutine on the server's own event loop (where its sessions live)."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=timeout_s)

    def session(self, scrape_id: str) -> Any:
        return self.registry.get(scrape_id)

    def browser_pid(self, scrape_id: str) -> int:
        return self.session(scrape_id).browser_session.pid

    def kill_browser(self, scrape_id: str) -> None:
        """SIGKILL the session's whole Chromium process group: a browser crash."""
        os.killpg(self.browser_pid(scrape_id), signal.SIGKILL)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        kwargs.setdefault("timeout", 120)
        return httpx.post(f"{self.url}{path}", **kwargs)

    def scrape(self, url: str, **options: Any) -> httpx.Response:
        return self.post("/v2/scrape", json={"url": url, **options})

    def scrape_id(self, url: str, **options: Any) -> str:
        response = self.scrape(url, **options)
        assert response.status_code == 200, response.text
        return str(response.json()["data"]["metadata"]["scrapeId"])

    def interact(self, scrape_id: str, **body: Any) -> httpx.Response:
        return self.post(f"/v2/scrape/{scrape_id}/interact", json=body)

    def stop_session(self, scrape_id: str) -> httpx.Response:
        return httpx.delete(f"{self.url}/v2/scrape/{scrape_id}/interact", timeout=60)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=90)


Turn = ScriptStep | Callable[[Sequence[Message]], "ScriptStep | Awaitable[ScriptStep]"]


class Turns:
    """The scripted model's answers, queued by each test; a turn may be an (async) function of
    the messages so far. With nothing queued the model answers "Nothing to do."."""

    def __init__(self) -> None:
        self.queue: deque[Turn] = deque()

    def add(self, *turns: Turn) -> None:
        self.queue.extend(turns)

    async def __call__(self, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> ScriptStep:
        if not self.queue:
            return "Nothing to do."
        turn = self.queue.popleft()
        if callable(turn):
            answer = turn(messages)
            return await answer if inspect.isawaitable(answer) else answer
        return turn


def assert_firecrawl_error(
    response: httpx.Response, status: int | tuple[int, ...]
) -> dict[str, Any]:
    """The response is ``status`` with Firecrawl's ``{success: false, error}`` and no traceback."""
    wanted = (status,) if isinstance(status, int) else status
    assert response.status_code in wanted, f"{response.status_code}: {response.text[:500]}"
    body = response.json()
    assert body["success"] is False, body
    assert isinstance(body["error"], str) and body["error"].strip(), body
    assert "Traceback" not in response.text
    return dict(body)


class LogCapture(logging.Handler):
    """Keeps every record emitted anywhere in the process (server thread included)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:  # a record that cannot even be formatted is still a record
            self.lines.append(f"{record.levelname} {record.name}: {record.msg!r} {record.args!r}")

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@contextmanager
def capture_all_logs() -> Iterator[LogCapture]:
    """Capture DEBUG and up from every logger (uvicorn, httpx, openai, agent...); start the
    server before entering, as uvicorn configures its loggers when it starts."""
    handler = LogCapture()
    # uvicorn's own loggers do not propagate to the root logger: attach to them directly.
    loggers = [logging.getLogger(name) for name in ("", "uvicorn", "uvicorn.access")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)
