"""The sessions a server keeps open between calls, keyed by scrapeId, and their expiry.

Each scrape opens one :class:`ServerSession` (a private Chromium). It lives until it is stopped,
until its TTL runs out (however busy it is), or until it has been idle for its activity TTL; a
background reaper closes expired sessions and writes their profiles back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from agent.browser.session import BrowserSession
from agent.errors import RequestError, SessionLostError
from agent.server.pool import BrowserPool
from agent.server.profiles import ProfileStore
from agent.server.schemas import ProfileOptions
from agent.server.settings import ServerSettings

__all__ = ["ServerSession", "SessionFactory", "SessionRegistry"]

log = logging.getLogger(__name__)

SessionFactory = Callable[[], Awaitable[BrowserSession]]
"""Starts the browser for a new session."""

_ENDED_MEMORY = 1000  # how many ended sessions a 404 can still explain


@dataclass
class ServerSession:
    """A scrape's browser, kept open for interact calls."""

    id: str
    browser_session: BrowserSession
    ttl_s: float
    activity_ttl_s: float
    profile: ProfileOptions | None = None
    view_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    control_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    created_at: float = field(default_factory=time.monotonic)
    last_activity: float = field(default_factory=time.monotonic)
    busy: int = 0
    closed: bool = False

    def touch(self) -> None:
        self.last_activity = time.monotonic()

    def expiry_reason(self, now: float) -> str | None:
        """Why the session is over at ``now``, or None while it may go on."""
        if now - self.created_at >= self.ttl_s:
            return f"its TTL of {self.ttl_s:g} s ran out"
        if not self.busy and now - self.last_activity >= self.activity_ttl_s:
            return f"it was idle for longer than its activity TTL of {self.activity_ttl_s:g} s"
        return None

    def duration_ms(self) -> int:
        return int((time.monotonic() - self.created_at) * 1000)


class SessionRegistry:
    """Opens, finds, expires and closes server sessions; bounded by ``max_sessions``."""

    def __init__(
        self, settings: ServerSettings, profiles: ProfileStore, factory: SessionFactory
    ) -> None:
        self.settings = settings
        self.profiles = profiles
        self._pool = BrowserPool(factory, settings.warm_browsers)
        self._sessions: dict[str, ServerSession] = {}
        self._starting = 0
        self._ended: OrderedDict[str, str] = OrderedDict()
        self._reaper: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._sessions)

    async def open(
        self,
        *,
        ttl_s: float | None = None,
        activity_ttl_s: float | None = None,
        profile: ProfileOptions | None = None,
    ) -> ServerSession:
        """Start a browser for a new session, loading its profile if it names one.

        Raises:
            RequestError: TOO_MANY_SESSIONS when max_sessions are open, PROFILE_IN_USE when the
                profile has a writer.
        """
        if len(self._sessions) + self._starting >= self.settings.max_sessions:
            raise RequestError(
                "TOO_MANY_SESSIONS",
                f"Too many browser sessions are open ({self.settings.max_sessions} allowed). "
                "Stop one (DELETE /v2/scrape/{scrapeId}/interact, or the MCP tool "
                "stop_interaction), wait for one to expire, or raise AGENT_MAX_SESSIONS.",
                retry_after_s=5,
            )
        session_id = str(uuid.uuid4())
        if profile is not None and profile.save_changes:
            self.profiles.acquire_writer(profile.name, session_id)
        self._starting += 1
        try:
            browser = await self._pool.take()
            try:
                if profile is not None:
                    await self.profiles.apply(profile.name, browser.context)
            except BaseException:
                await browser.close()
                raise
        except BaseException:
            if profile is not None:
                self.profiles.release_writer(profile.name, session_id)
            raise
        finally:
            self._starting -= 1
        session = ServerSession(
            id=session_id,
            browser_session=browser,
            ttl_s=float(ttl_s or self.settings.session_ttl),
            activity_ttl_s=float(activity_ttl_s or self.settings.activity_ttl),
            profile=profile,
        )
        self._sessions[session_id] = session
        return session

    def get(self, session_id: str) -> ServerSession:
        """The live session ``session_id``, or a 404 saying why there is none."""
        session = self._sessions.get(session_id)
        if session is not None and session.expiry_reason(time.monotonic()) is None:
            return session
        if session is not None:  # expired but not yet reaped: reap it now, in the background
            reason = session.expiry_reason(time.monotonic()) or "it expired"
            self._schedule_close(session, f"expired: {reason}")
        ended = self._ended.get(session_id)
        message = f"No active session for scrapeId {session_id!r}"
        message += f": it was {ended}." if ended else "."
        raise RequestError(
            "SESSION_NOT_FOUND",
            message + " Scrape the page again (POST /v2/scrape, or the MCP tool scrape) to get a "
            "new session.",
        )

    @contextlib.asynccontextmanager
    async def use(self, session_id: str) -> AsyncIterator[ServerSession]:
        """The session, marked busy (so inactivity cannot expire it) for the block's duration;
        a session whose browser turns out to be gone is closed."""
        session = self.get(session_id)
        session.busy += 1
        session.touch()
        try:
            yield session
        except SessionLostError:
            await self.discard(session, "closed because its browser was lost")
            raise
        finally:
            session.busy -= 1
            session.touch()

    async def close(self, session_id: str, reason: str = "stopped") -> ServerSession:
        """Close a session: write its profile back if it holds the writer lease, then the
        browser. Raises 404 when there is no such session."""
        session = self.get(session_id)
        await self._close(session, reason)
        return session

    async def discard(self, session: ServerSession, reason: str) -> None:
        """Close a session whose scrape failed, without saving its profile."""
        await self._close(session, reason, save=False)

    async def _close(self, session: ServerSession, reason: str, *, save: bool = True) -> None:
        if session.closed:
            return
        session.closed = True
        self._sessions.pop(session.id, None)
        self._remember(session.id, reason)
        profile = session.profile
        try:
            if save and profile is not None and profile.save_changes:
                try:
                    path = await self.profiles.save(profile.name, session.browser_session.context)
                    log.info("session %s: saved profile %r to %s", session.id, profile.name, path)
                except Exception:
                    log.exception("session %s: could not save profile %r", session.id, profile.name)
        finally:
            if profile is not None:
                self.profiles.release_writer(profile.name, session.id)
            await session.browser_session.close()
            log.info("session %s closed (%s)", session.id, reason)

    def _schedule_close(self, session: ServerSession, reason: str) -> None:
        if not session.closed:
            task = asyncio.get_running_loop().create_task(self._close(session, reason))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
            task.add_done_callback(_log_task_failure)
            self._sessions.pop(session.id, None)
            self._remember(session.id, reason)

    def _remember(self, session_id: str, reason: str) -> None:
        self._ended[session_id] = reason
        while len(self._ended) > _ENDED_MEMORY:
            self._ended.popitem(last=False)

    async def reap(self) -> int:
        """Close every expired session now; return how many were closed."""
        now = time.monotonic()
        expired = [
            (s, reason)
            for s in list(self._sessions.values())
            if (reason := s.expiry_reason(now)) is not None
        ]
        for session, reason in expired:
            try:
                await self._close(session, f"expired: {reason}")
            except Exception:
                log.exception("closing expired session %s failed", session.id)
        return len(expired)

    def start(self) -> None:
        """Start the reaper and the spare browsers (call inside the server's event loop)."""
        self._pool.refill()
        if self._reaper is None or self._reaper.done():
            self._reaper = asyncio.get_running_loop().create_task(self._reap_forever())

    async def _reap_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.reap_interval)
            try:
                await self.reap()
            except Exception:  # the reaper must outlive any one failure
                log.exception("session reaper failed")

    async def close_all(self) -> None:
        """Stop the reaper and close every session (server shutdown), saving profiles."""
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
            self._reaper = None
        sessions = list(self._sessions.values())
        results = await asyncio.gather(
            *(self._close(s, "closed at server shutdown") for s in sessions),
            return_exceptions=True,
        )
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
        await self._pool.close()
        for session, result in zip(sessions, results, strict=True):
            if isinstance(result, BaseException):
                log.error("closing session %s at shutdown failed: %s", session.id, result)


def _log_task_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("closing a session failed: %s", task.exception())
