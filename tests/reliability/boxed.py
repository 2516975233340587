"""What several attack files share: the server with everything boxed as ``agent serve`` boxes
it, the victim's session, and the code each client runs to read a page from inside a session."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from agent.server import ServerSettings
from tests.harness import RunningServer, quick_agent_settings

__all__ = ["boxed_server", "read_page_code", "victim_session"]


@contextmanager
def boxed_server(
    profiles_dir: Path, *, secret: str | None = None, **agent_settings: Any
) -> Iterator[RunningServer]:
    """The real server, its sessions' code in bubblewrap and its browsers the ones ``agent
    serve`` starts (boxed by default), with ``secret`` in its own environment as a model key
    would be (``AGENT_TEST_MODEL_KEY``), for the attacks to look for."""
    if secret is not None:
        os.environ["AGENT_TEST_MODEL_KEY"] = secret
    try:
        with RunningServer(
            ServerSettings(profiles_dir=profiles_dir, warm_browsers=0),
            agent_settings=quick_agent_settings(sandbox="bwrap", **agent_settings),
            count_launches=False,
        ) as server:
            yield server
    finally:
        if secret is not None:
            del os.environ["AGENT_TEST_MODEL_KEY"]


def victim_session(served: RunningServer, site: str) -> str:
    """Session B ("bob", logged in on the site), opened again from the profile its first
    session saved, so the profile is on disk for an attacker to aim at; its scrape id."""
    bob = served.scrape_id(f"{site}/page?set=bob", profile={"name": "bob"})
    served.stop_session(bob)  # writes bob's profile
    return served.scrape_id(f"{site}/page?set=bob", profile={"name": "bob"})


_READ = {
    "python": """
try:
    await page.goto(URL, timeout=TIMEOUT)
    text = await page.evaluate("document.documentElement.innerText")
except Exception as exc:
    text = "could not: " + str(exc)
text
""",
    "node": """
let text;
try {
  await page.goto(URL, {timeout: TIMEOUT});
  text = await page.evaluate(() => document.documentElement.innerText);
} catch (e) { text = "could not: " + e; }
text
""",
    "bash": "agent-browser open URL_SH >/dev/null 2>&1; agent-browser get text body 2>&1",
}


def read_page_code(client: str, url: str, timeout_ms: int) -> str:
    """Code for ``client`` (python, node or bash) that opens ``url`` on the session's page and
    answers its text, or ``could not: ...``."""
    code = _READ[client].replace("TIMEOUT", str(timeout_ms))
    return code.replace("URL_SH", url).replace("URL", json.dumps(url))
