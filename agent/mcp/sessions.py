"""The browser sessions one MCP client works with, and their end when the client goes away.

Every session is a session of the server's ``SessionRegistry``, so MCP clients share its limits
(``max_sessions``), browser pool and profiles with the HTTP API. A client has:

* a **default session**, opened by its first browser tool call that names none, and living as
  long as the client's connection (no TTL: an MCP client may sit idle for an hour between two
  questions of its user);
* the sessions its ``scrape`` calls opened, with the registry's TTLs;
* one ``McpToolContext`` per session it used (its last snapshot, a dialog it has to answer).

``close()`` stops the sessions it opened; the stdio server calls it when stdin closes, the HTTP
server when the MCP session ends (DELETE, idle timeout, shutdown). A client of the sessionless
protocol (2026-07-28 over HTTP) has no connection that outlives a request: it gets no default
session and its scraped sessions end by their TTLs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from agent.errors import RequestError, SessionLostError, ToolError
from agent.mcp.context import McpToolContext

if TYPE_CHECKING:
    from agent.service.registry import ServerSession
    from agent.service.state import ServerState

__all__ = ["ClientSessions"]

log = logging.getLogger(__name__)


class ClientSessions:
    """The sessions of one MCP client: its default session, those it opened, their contexts.

    Args:
        state: the server's shared state (settings, registry, model).
        lasting: whether the client has a connection that outlives one request; only such a
            client gets a default session and has its sessions closed with it.
    """

    def __init__(self, state: ServerState, *, lasting: bool = True) -> None:
        self.state = state
        self.lasting = lasting
        self.default_id: str | None = None
        self._owned: set[str] = set()
        self._contexts: dict[str, McpToolContext] = {}
        self._opening = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def use(
        self, session_id: str | None
    ) -> AsyncIterator[tuple[ServerSession, McpToolContext]]:
        """The session ``session_id`` (the default one when None), marked busy, with this
        client's context for it.

        Raises:
            RequestError: SESSION_NOT_FOUND, TOO_MANY_SESSIONS, ... from the registry.
            ToolError: no session was named and this client can have no default one.
            SessionLostError: the session's browser died (the session is then forgotten).
        """
        chosen = session_id or await self._default()
        try:
            async with self.state.registry.use(chosen) as served:
                yield served, self._context(served)
        except SessionLostError:
            self.forget(chosen)
            raise

    def _context(self, served: ServerSession) -> McpToolContext:
        ctx = self._contexts.get(served.id)
        if ctx is None or ctx.session is not served.browser_session:
            settings = self.state.settings
            ctx = McpToolContext(
                served.browser_session,
                settings.mcp_max_snapshot_tokens,
                prepare_snapshots=settings.mcp_prepare_snapshots,
            )
            self._contexts[served.id] = ctx
        return ctx

    def context_of(self, session_id: str) -> McpToolContext | None:
        """This client's context for a session it used, if any."""
        return self._contexts.get(session_id)

    async def _default(self) -> str:
        if not self.lasting:
            raise ToolError(
                "This MCP client speaks the sessionless protocol, so there is no default "
                "browser to keep between calls: call scrape first and pass its session_id to "
                "the browser tools."
            )
        async with self._opening:  # two first calls at once must not open two browsers
            if self.default_id is not None:
                try:
                    self.state.registry.get(self.default_id)
                    return self.default_id
                except RequestError:  # stopped or lost meanwhile: open a new one
                    self.forget(self.default_id)
            registry = self.state.registry
            served = await registry.open(ttl_s=math.inf, activity_ttl_s=math.inf)
            self.adopt(served.id)
            self.default_id = served.id
            log.info("MCP client's default session %s opened", served.id)
            return served.id

    def adopt(self, session_id: str) -> None:
        """Count a session this client opened among those closed with it."""
        if self.lasting:
            self._owned.add(session_id)

    def forget(self, session_id: str) -> None:
        """Drop what this client knows of a session that has ended."""
        self._owned.discard(session_id)
        self._contexts.pop(session_id, None)
        if self.default_id == session_id:
            self.default_id = None

    async def close(self) -> None:
        """Stop every session this client opened (the client has gone away), all at once: a
        stdio client waits only seconds before it kills the server."""
        owned, self._owned = list(self._owned), set()
        for session_id in owned:
            self.forget(session_id)
        results = await asyncio.gather(
            *(
                self.state.registry.close(session_id, "closed: its MCP client went away")
                for session_id in owned
            ),
            return_exceptions=True,
        )
        for session_id, result in zip(owned, results, strict=True):
            # A RequestError: it ended already (stopped, expired, lost).
            if isinstance(result, BaseException) and not isinstance(result, RequestError):
                log.error("closing session %s of a gone MCP client failed: %s", session_id, result)
