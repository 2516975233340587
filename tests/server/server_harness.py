"""The test harness: the local test site, a real server in a thread, a scripted model's turns."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable, Coroutine, Sequence
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, TypeVar

import uvicorn

from agent.config import Settings
from agent.messages import Message, ToolSpec, UserMessage
from agent.models import ScriptedModel
from agent.models.scripted import ScriptStep
from agent.server import ServerSettings, SessionFactory, create_app

SITE = Path(__file__).parent / "site"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"

T = TypeVar("T")
Turn = ScriptStep | Callable[[Sequence[Message]], ScriptStep]


class SiteHandler(BaseHTTPRequestHandler):
    """Static files from ``site/`` plus a few special paths: /status/N, /slow."""

    def do_GET(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        if path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            self._send(code, f"<html><head><title>Status {code}</title></head><body>"
                       f"<main><h1>Error page {code}</h1></main></body></html>")  # fmt: skip
            return
        if path == "/slow":
            time.sleep(4)
            self._send(200, "<html><body>finally</body></html>")
            return
        file = (SITE / path.lstrip("/")).resolve()
        if path == "/":
            file = SITE / "index.html"
        if file.is_file() and SITE in file.parents:
            kind = "text/html" if file.suffix == ".html" else "application/octet-stream"
            self._send(200, file.read_bytes(), kind)
        else:
            self._send(404, "<html><head><title>Not found</title></head><body>nope</body></html>")

    def _send(self, code: int, body: str | bytes, kind: str = "text/html") -> None:
        data = body.encode() if isinstance(body, str) else body
        self.send_response(code)
        self.send_header("Content-Type", f"{kind}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class PromptScript:
    """The scripted model's answers, queued by each test; a turn may look at the messages."""

    def __init__(self) -> None:
        self.turns: deque[Turn] = deque()

    def add(self, *turns: Turn) -> None:
        self.turns.extend(turns)

    def __call__(self, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> ScriptStep:
        if not self.turns:
            return "(the test scripted no more turns)"
        turn = self.turns.popleft()
        if callable(turn):
            return turn(messages)
        return turn


def last_snapshot(messages: Sequence[Message]) -> str:
    """The newest user message: the observation with the snapshot the model is shown."""
    for message in reversed(messages):
        if isinstance(message, UserMessage):
            return message.content
    return ""


class RunningServer:
    """A uvicorn server in a thread, on an ephemeral loopback port."""

    def __init__(
        self,
        settings: ServerSettings,
        script: PromptScript,
        session_factory: SessionFactory | None = None,
    ) -> None:
        self.script = script
        self.settings = settings
        app = create_app(
            settings,
            agent_settings=Settings(action_timeout=3, navigation_timeout=15, max_steps=6),
            model=ScriptedModel(script),
            session_factory=session_factory,
        )
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread = threading.Thread(target=asyncio.run, args=(self._serve(sock),), daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        self.app = app

    async def _serve(self, sock: socket.socket) -> None:
        self.loop = asyncio.get_running_loop()
        await self.server.serve(sockets=[sock])

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the server's own event loop (where its sessions live)."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)

    def evaluate(self, scrape_id: str, expression: str) -> Any:
        """Evaluate JavaScript in a session's page, bypassing the API."""
        session = self.registry.get(scrape_id)
        return self.run(session.browser_session.page.evaluate(expression))

    @property
    def registry(self) -> Any:
        return self.app.state.server.registry

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=60)
