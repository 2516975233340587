"""A small client of the Firecrawl-compatible server, for the command line.

It remembers the last scrape id in its state folder (:func:`config_dir`), and when no server
answers at the configured URL (``AGENT_SERVER_URL``, default ``http://127.0.0.1:3002``) it starts
a local one in the background and says so. A server it started is recorded with a fingerprint
of the settings it got (``local_server``): when the shell's settings differ later, ``agent
scrape`` restarts it, and other commands say so with the command that does.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx

from agent.cli.local_server import LocalServer
from agent.errors import ClientError

__all__ = ["STATE_DIR_ENV", "AgentClient", "LastScrape", "config_dir"]

DEFAULT_SERVER_URL = "http://127.0.0.1:3002"


STATE_DIR_ENV = "AGENT_STATE_DIR"
"""Names the command line's state folder, e.g. one per project; see :func:`config_dir`."""


def config_dir() -> Path:
    """The command line's state folder: the last scrape id, the background server's record and
    log. ``$AGENT_STATE_DIR`` when set (a folder per project: the commands run there then share
    neither the last scrape nor the background server with other projects), else
    ``$XDG_CONFIG_HOME/browser-agent``, by default ``~/.config/browser-agent``."""
    explicit = os.environ.get(STATE_DIR_ENV, "").strip()
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "browser-agent"


@dataclass(frozen=True)
class LastScrape:
    """The scrape id the command line acts on when none is given."""

    scrape_id: str
    url: str
    at: float

    @staticmethod
    def path() -> Path:
        return config_dir() / "last-scrape.json"

    @classmethod
    def load(cls) -> LastScrape | None:
        try:
            data = json.loads(cls.path().read_text())
            return cls(str(data["scrapeId"]), str(data.get("url", "")), float(data["at"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self) -> None:
        path = self.path()
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(
            json.dumps({"scrapeId": self.scrape_id, "url": self.url, "at": self.at})
        )
        os.replace(temporary, path)

    @classmethod
    def forget(cls) -> None:
        cls.path().unlink(missing_ok=True)


class AgentClient:
    """Calls ``/v2/scrape`` and ``/v2/scrape/{id}/interact`` on one server."""

    def __init__(self, base_url: str | None = None, api_key: str | None = None) -> None:
        self.base_url = (
            base_url or os.environ.get("AGENT_SERVER_URL") or DEFAULT_SERVER_URL
        ).rstrip("/")
        key = api_key if api_key is not None else os.environ.get("AGENT_API_KEY", "")
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}

    def ensure_server(
        self, *, start: bool = True, wait_s: float = 60.0, check_settings: bool = True
    ) -> None:
        """Make sure a server answers; start a local one in the background if allowed.

        When the server answering is one this command line started and this shell's settings
        differ from those it was started with, restart it when ``start`` is allowed (``agent
        scrape``, whose new session needs no old one), else raise ``ClientError`` saying which
        settings differ and how to restart it.
        """
        if self._alive():
            self._check_settings(restart=start, wait_s=wait_s)
            return
        parsed = urlparse(self.base_url)
        if not start or parsed.hostname not in ("127.0.0.1", "localhost"):
            raise ClientError(
                f"No server answers at {self.base_url}. Start one with `agent serve`, or set "
                "AGENT_SERVER_URL to a running one."
            )
        self._start(wait_s)

    def _check_settings(self, *, restart: bool, wait_s: float) -> None:
        state = config_dir()
        server = LocalServer.load(state)
        if server is None or server.url != self.base_url or not server.running():
            return  # not a server this command line started: its settings are its owner's
        changed = server.differences(os.environ)
        if not changed:
            return
        names = ", ".join(changed)
        if not restart:
            last = LastScrape.load()
            again = f"agent scrape {last.url if last is not None and last.url else 'URL'}"
            raise ClientError(
                f"The local server at {self.base_url} (pid {server.pid}, started by this command "
                f"line) runs with other settings than this shell: {names} differ. It keeps the "
                f"settings it was started with; restart it with this shell's by running "
                f"`{again}` (it restarts the local server; the sessions on the old one end), or "
                "run this command with the settings it was started with."
            )
        print(
            f"restarting the local server (pid {server.pid}) with this shell's settings: "
            f"{names} differ from those it was started with",
            file=sys.stderr,
        )
        if not server.stop():
            raise ClientError(
                f"The local server (pid {server.pid}) did not stop within 60 s: stop it with "
                f"`kill {server.pid}` and try again."
            )
        LocalServer.forget(state)
        self._start(wait_s)

    def _start(self, wait_s: float) -> None:
        parsed = urlparse(self.base_url)
        state = config_dir()
        log_path = state / "server.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        port = str(parsed.port or 80)
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "agent", "serve", "--host", "127.0.0.1", "--port", port],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,  # outlives this command, as a background server should
            )
        LocalServer.started(process.pid, self.base_url, os.environ).save(state)
        print(
            f"started a local server at {self.base_url} (pid {process.pid}, log {log_path}); "
            f"stop it with `kill {process.pid}`",
            file=sys.stderr,
        )
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                LocalServer.forget(state)
                raise ClientError(
                    f"The local server exited at start-up: {_last_words(log_path)} (log: "
                    f"{log_path})."
                )
            if self._alive():
                return
            time.sleep(0.2)
        raise ClientError(f"The local server did not answer within {wait_s:.0f} s; see {log_path}.")

    def _alive(self) -> bool:
        try:
            httpx.get(f"{self.base_url}/openapi.json", timeout=2.0)
        except httpx.HTTPError:
            return False
        return True

    def scrape(self, body: dict[str, Any], *, timeout_s: float = 120.0) -> dict[str, Any]:
        return self._call("POST", "/v2/scrape", body, timeout_s)

    def interact(self, scrape_id: str, body: dict[str, Any], *, timeout_s: float) -> dict[str, Any]:
        return self._call(
            "POST", f"/v2/scrape/{scrape_id}/interact", body, timeout_s, allow_failed=True
        )

    def stop(self, scrape_id: str) -> dict[str, Any]:
        return self._call("DELETE", f"/v2/scrape/{scrape_id}/interact", None, 60.0)

    def _call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        timeout_s: float,
        *,
        allow_failed: bool = False,
    ) -> dict[str, Any]:
        try:
            response = httpx.request(
                method, self.base_url + path, json=body, headers=self.headers, timeout=timeout_s
            )
        except httpx.TimeoutException as exc:
            raise ClientError(f"{method} {path} got no answer within {timeout_s:.0f} s.") from exc
        except httpx.HTTPError as exc:
            raise ClientError(f"Could not reach {self.base_url}: {exc}") from exc
        try:
            data = response.json()
        except ValueError as exc:
            raise ClientError(
                f"{method} {path} answered {response.status_code} with no JSON."
            ) from exc
        if not isinstance(data, dict):
            raise ClientError(f"{method} {path} answered with unexpected JSON.")
        if response.status_code >= 400 and not (allow_failed and "exitCode" in data):
            error = data.get("error") or response.reason_phrase
            raise ClientError(f"{error} (HTTP {response.status_code})")
        return data


def _last_words(log_path: Path) -> str:
    """The last line a server that failed to start wrote to its log (its reason)."""
    with contextlib.suppress(OSError):
        lines = [line.strip() for line in log_path.read_text(errors="replace").splitlines()]
        said = [line for line in lines if line]
        if said:
            return said[-1][:1000]
    return "it said nothing"
