"""How a session's browser is made: a local Chromium (boxed, from the pool's factory) or a
context on a remote endpoint, each a :class:`ServedBrowserSession` with its download limits."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from agent.browser.box import BoxOptions
from agent.browser.providers import Endpoint, open_browser
from agent.browser.session import BrowserSession
from agent.config import Settings
from agent.errors import ToolError

__all__ = [
    "RemoteFactory",
    "ServedBrowserSession",
    "SessionFactory",
    "bound_downloads",
    "local_browser_factory",
    "remote_browser_factory",
]

SessionFactory = Callable[[], Awaitable[BrowserSession]]
"""Starts a local browser for a new session."""
RemoteFactory = Callable[[Endpoint, "str | None"], Awaitable[BrowserSession]]
"""Opens a session's browser context on a remote endpoint (a new one, or the given one)."""


class ServedBrowserSession(BrowserSession):
    """A server session's browser, whose planner can open web pages only.

    The ``navigate`` tool also accepts ``file://`` for local use; on a server that would let a
    prompt, or a page steering the model, read the server's files, other sessions' profiles
    among them.
    """

    async def goto(self, url: str, *, wait_until: str = "load") -> int | None:
        if urlsplit(url).scheme.lower() not in ("http", "https") and url != "about:blank":
            raise ToolError(f"{url[:200]!r} cannot be opened here: give an http(s) URL.")
        return await super().goto(url, wait_until=wait_until)


def remote_browser_factory(agent_settings: Settings) -> RemoteFactory:
    """Opens sessions' browser contexts on remote endpoints, with ``agent_settings``' timeouts."""

    async def open_remote(endpoint: Endpoint, context_id: str | None) -> BrowserSession:
        handle = await open_browser(
            endpoint, context_id=context_id, timeout_s=agent_settings.navigation_timeout
        )
        return bound_downloads(
            ServedBrowserSession(
                handle,
                action_timeout_s=agent_settings.action_timeout,
                navigation_timeout_s=agent_settings.navigation_timeout,
            ),
            agent_settings,
        )

    return open_remote


def local_browser_factory(agent_settings: Settings, *, egress: bool) -> SessionFactory:
    """Starts sessions' local browsers, a box each (AGENT_BROWSER_SANDBOX), reaching the network
    through the box's egress checkpoint when ``egress`` (private addresses are blocked)."""
    box = BoxOptions.from_settings(agent_settings, egress=egress)

    async def start() -> BrowserSession:
        session = await ServedBrowserSession.start(
            executable=str(agent_settings.browser_path) if agent_settings.browser_path else None,
            headless=agent_settings.headless,
            action_timeout_s=agent_settings.action_timeout,
            navigation_timeout_s=agent_settings.navigation_timeout,
            box=box,
        )
        return bound_downloads(session, agent_settings)

    return start


def bound_downloads(session: BrowserSession, agent_settings: Settings) -> BrowserSession:
    """Give a session's browser the download limits of its code: no file larger than
    AGENT_SANDBOX_FILE_SIZE_MB, no more in all than AGENT_SANDBOX_TMP_MB (at least one file)."""
    file_bytes = agent_settings.sandbox_file_size_mb * 1024 * 1024
    quota = max(file_bytes, agent_settings.sandbox_tmp_mb * 1024 * 1024)
    session.handle.router.limit_downloads(file_bytes, quota)
    return session
