"""Where a session's browser comes from: a Chromium of its own here, or a remote endpoint.

An ``Endpoint`` is one place sessions can be opened, with a capacity:

* ``local``: a Chromium started on this machine for each session (the default);
* ``cdp``: any CDP endpoint (``http://host:9222``, or a ``ws://`` URL such as Browserless');
* ``playwright``: a Playwright browser server (``launchServer`` / ``run-server``), by its
  ``ws://`` endpoint.

Remote endpoints hold several sessions at once, each in a browser context of its own (see
``remote.py``). ``open_browser`` opens one; ``EndpointLoads`` picks the least-loaded endpoint
that still has room.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agent.browser.handle import BrowserHandle
from agent.browser.launch import launch_browser
from agent.browser.remote import open_cdp, open_playwright
from agent.errors import RequestError

__all__ = ["LOCAL", "Endpoint", "EndpointLoads", "open_browser"]


class Endpoint(BaseModel):
    """One place browser sessions can be opened."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["local", "cdp", "playwright"] = "local"
    url: str | None = Field(default=None, description="The endpoint (cdp, playwright).")
    capacity: int | None = Field(
        default=None,
        ge=1,
        description="Sessions it may hold at once; None: as many as AGENT_MAX_SESSIONS allows.",
    )

    @model_validator(mode="after")
    def _needs_url(self) -> Endpoint:
        if self.kind != "local" and not self.url:
            raise ValueError(f'a {self.kind} endpoint needs a "url"')
        return self

    @property
    def name(self) -> str:
        """How logs, errors and the session store name it."""
        return "local" if self.kind == "local" else f"{self.kind}:{self.url}"


LOCAL = Endpoint()


async def open_browser(
    endpoint: Endpoint,
    *,
    executable: str | None = None,
    headless: bool = True,
    context_id: str | None = None,
    timeout_s: float = 20.0,
) -> BrowserHandle:
    """A browser for one session at ``endpoint``; ``context_id`` re-opens an existing context
    on a CDP endpoint (taking a session over from a replica that is gone).

    Raises:
        BrowserError: the browser could not be started or reached.
    """
    if endpoint.kind == "cdp":
        assert endpoint.url is not None
        return await open_cdp(endpoint.url, context_id=context_id, timeout_s=timeout_s)
    if endpoint.kind == "playwright":
        assert endpoint.url is not None
        return await open_playwright(endpoint.url, timeout_s=timeout_s)
    return await launch_browser(
        executable=executable, headless=headless, startup_timeout_s=timeout_s
    )


class EndpointLoads:
    """How many sessions each endpoint holds, and which one a new session goes to."""

    def __init__(self, endpoints: Sequence[Endpoint]) -> None:
        self.endpoints = list(endpoints) or [LOCAL]
        self._in_use = {endpoint.name: 0 for endpoint in self.endpoints}

    def choose(self) -> Endpoint:
        """The least-loaded endpoint with room (load = sessions / capacity), taken at once.

        Raises:
            RequestError: TOO_MANY_SESSIONS (429) when every endpoint is full.
        """
        best: Endpoint | None = None
        best_load = 2.0
        for endpoint in self.endpoints:
            used = self._in_use[endpoint.name]
            if endpoint.capacity is None:
                load = 0.0 if used == 0 else used / (used + 1)
            elif used >= endpoint.capacity:
                continue
            else:
                load = used / endpoint.capacity
            if load < best_load:
                best, best_load = endpoint, load
        if best is None:
            total = sum(e.capacity or 0 for e in self.endpoints)
            raise RequestError(
                "TOO_MANY_SESSIONS",
                f"Every browser endpoint is full ({total} sessions in all). Stop a session "
                "(DELETE /v2/scrape/{scrapeId}/interact), wait for one to expire, or add "
                "capacity to AGENT_BROWSER_ENDPOINTS.",
                retry_after_s=5,
            )
        self._in_use[best.name] += 1
        return best

    def take(self, endpoint: Endpoint) -> None:
        """Count a session on ``endpoint`` (one taken over from another replica)."""
        self._in_use[endpoint.name] = self._in_use.get(endpoint.name, 0) + 1

    def release(self, endpoint: Endpoint) -> None:
        self._in_use[endpoint.name] = max(0, self._in_use.get(endpoint.name, 0) - 1)

    def in_use(self, endpoint: Endpoint) -> int:
        return self._in_use.get(endpoint.name, 0)
