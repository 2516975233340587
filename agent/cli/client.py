"""A small client of the Firecrawl-compatible server, for the command line.

It remembers the last scrape id in the user's config folder, and when no server answers at the
configured URL (``AGENT_SERVER_URL``, default ``http://127.0.0.1:3002``) it starts a local one in
the background and says so.
"""

from __future__ import annotations

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

from agent.errors import ClientError

__all__ = ["AgentClient", "LastScrape", "config_dir"]

DEFAULT_SERVER_URL = "http://127.0.0.1:3002"


def config_dir() -> Path:
    """The user's config folder for this tool (``$XDG_CONFIG_HOME/browser-agent``)."""
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

    def ensure_server(self, *, start: bool = True, wait_s: float = 60.0) -> None:
        """Make sure a server answers; start a local one in the background if allowed."""
        if self._alive():
            return
        parsed = urlparse(self.base_url)
        if not start or parsed.hostname not in ("127.0.0.1", "localhost"):
            raise ClientError(
                f"No server answers at {self.base_url}. Start one with `agent serve`, or set "
                "AGENT_SERVER_URL to a running one."
            )
        log_path = config_dir() / "server.log"
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
        print(
            f"started a local server at {self.base_url} (pid {process.pid}, log {log_path}); "
            f"stop it with `kill {process.pid}`",
            file=sys.stderr,
        )
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise ClientError(f"The local server exited at start-up; see {log_path}.")
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
