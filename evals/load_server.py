"""The server under load: the real app (``create_app`` under uvicorn) in a child process on
127.0.0.1, with a scripted model, as the load test and the benchmarks start it."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from agent import procfs

__all__ = ["TITLE", "ServerProcess", "main"]

TITLE = "Load test page"


def _scripted_policy(messages: Sequence[Any], tools: Sequence[Any]) -> Any:
    """Read the page with one tool call, then answer: two model turns per prompt."""
    from agent.messages import AssistantMessage
    from agent.models import tool_call

    if not any(isinstance(message, AssistantMessage) for message in messages):
        return [tool_call("get_text")]
    return [tool_call("done", answer=f"The page is titled {TITLE}.")]


def main(argv: list[str] | None = None) -> int:
    """The child process: the real app on 127.0.0.1, its URL printed once it listens."""
    parser = argparse.ArgumentParser(prog="python3 -m evals.load_server")
    parser.add_argument("--max-sessions", type=int, required=True)
    parser.add_argument("--warm-browsers", type=int, default=0)
    parser.add_argument("--profiles-dir", required=True)
    parser.add_argument(
        "--defaults",
        action="store_true",
        help="every other setting at its default (AGENT_* from the environment), for the cold "
        "burst: --max-sessions and --warm-browsers are ignored",
    )
    args = parser.parse_args(argv)
    import socket

    import uvicorn

    from agent.config import Settings
    from agent.models import ScriptedModel
    from agent.server import ServerSettings, create_app

    if args.defaults:
        settings = ServerSettings(host="127.0.0.1", profiles_dir=Path(args.profiles_dir))
        agent_settings = Settings(max_steps=4)
    else:
        settings = ServerSettings(
            host="127.0.0.1",
            profiles_dir=Path(args.profiles_dir),
            **_load_overrides(args.max_sessions, args.warm_browsers),
        )
        agent_settings = Settings(max_steps=4, action_timeout=30, navigation_timeout=120)
    app = create_app(settings, agent_settings=agent_settings, model=ScriptedModel(_scripted_policy))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    print(f"http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="on", backlog=2048, timeout_keep_alive=30)
    )
    server.run(sockets=[sock])
    return 0


def _load_overrides(max_sessions: int, warm_browsers: int) -> dict[str, Any]:
    """The load test's settings: room for every session, and waits long enough for any load."""
    return dict(
        max_sessions=max_sessions,
        warm_browsers=warm_browsers,
        session_ttl=3600,
        activity_ttl=3600,
        default_scrape_timeout=120,
        queue_timeout=120,
    )


class ServerProcess:
    """The server in a child process; stopping it closes every session it still has."""

    def __init__(
        self, max_sessions: int, warm_browsers: int, profiles_dir: str, *, defaults: bool = False
    ) -> None:
        """``defaults``: the server's default settings, ``max_sessions`` and ``warm_browsers``
        ignored (the cold burst)."""
        command = [
            sys.executable, "-m", "evals.load_server",
            "--max-sessions", str(max_sessions),
            "--warm-browsers", str(warm_browsers),
            "--profiles-dir", profiles_dir,
            *(["--defaults"] if defaults else []),
        ]  # fmt: skip
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if not line.startswith("http://127.0.0.1:"):
            self.stop()
            raise RuntimeError(f"the server did not start (it said {line!r})")
        self.url = line
        # The port is bound before the app has started; requests go out once it answers.
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{self.url}/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the server at {self.url} did not answer within 120 s")
            time.sleep(0.2)

    def stop(self) -> None:
        left = procfs.tree(self.process.pid)[1:]
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # uvicorn shuts down, closing sessions
            try:
                self.process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        for pid in left:  # whatever a hung shutdown left behind
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


if __name__ == "__main__":
    raise SystemExit(main())
