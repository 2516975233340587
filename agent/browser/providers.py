"""Where a session's browser comes from: a Chromium of its own here, or a remote endpoint.

An ``Endpoint`` is one place sessions can be opened, with a capacity:

* ``local``: a Chromium started on this machine for each session (the default);
* ``cdp``: any CDP endpoint (``http://host:9222``, or a ``ws://`` URL such as Browserless');
* ``playwright``: a Playwright browser server (``launchServer`` / ``run-server``), by its
  ``ws://`` endpoint.

Remote endpoints hold several sessions at once, each in a browser context of its own (see
``remote.py``). ``open_browser`` opens one; the session store (``agent.service.store``) counts
the sessions on each and picks the least-loaded one that still has room.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agent.browser.handle import BrowserHandle
from agent.browser.launch import launch_browser
from agent.browser.remote import open_cdp, open_playwright

__all__ = ["LOCAL", "Endpoint", "open_browser"]


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
