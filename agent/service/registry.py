"""The sessions a server keeps open between calls, keyed by scrapeId, and their lifetimes.

Each scrape opens one :class:`ServerSession`: a browser of its own here, or a browser context on
a remote endpoint (the least-loaded one with room, ``AGENT_BROWSER_ENDPOINTS``). It lives until it
is stopped, until its TTL runs out (however busy it is), or until it has been idle for its
activity TTL; the reaper closes expired sessions and writes their profiles back.

Opening a session is also where the address policy is applied (``AGENT_BLOCK_PRIVATE_ADDRESSES``,
:mod:`agent.service.address_guard`): the URL it is opened for is checked before a browser starts,
and its browser context gets the Playwright routes, whichever face opened it.

The session table lives in a ``SessionStore``: this process's memory, or Redis shared by
replicas. What replicas do about each other's sessions (locate, take over, sweep, heartbeat) is
:mod:`agent.service.replicas`; this registry serves the sessions this replica owns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Protocol

from agent.browser.providers import LOCAL, Endpoint
from agent.browser.session import BrowserSession
from agent.errors import BrowserError, RequestError, SessionLostError
from agent.service.address_guard import block_private_requests, check_public_address
from agent.service.browsers import RemoteFactory, SessionFactory
from agent.service.pool import BrowserPool
from agent.service.profiles import ProfileStore
from agent.service.schemas import ProfileOptions
from agent.service.settings import ServerSettings
from agent.service.store import MemoryStore, SessionRecord, SessionStore

__all__ = ["ServerSession", "SessionListener", "SessionRegistry"]

log = logging.getLogger(__name__)

_ENDED_MEMORY = 1000  # how many ended sessions a 404 can still explain
_ACTIVITY_WRITE_S = 2.0  # the least time between two writes of a session's activity


class SessionListener(Protocol):
    """Told when a session opens here and when one ends (here, or by the sweeper)."""

    def session_opened(self, session_id: str) -> None: ...

    def session_ended(self, session_id: str, reason: str) -> None: ...


@dataclass
class ServerSession:
    """A scrape's browser, kept open for interact calls, as this replica serves it."""

    id: str
    browser_session: BrowserSession
    record: SessionRecord
    endpoint: Endpoint = LOCAL
    profile: ProfileOptions | None = None
    busy: int = 0
    closed: bool = False
    _activity_written: float = 0.0

    @property
    def view_token(self) -> str:
        return self.record.view_token

    @property
    def control_token(self) -> str:
        return self.record.control_token

    @property
    def cdp_token(self) -> str:
        return self.record.cdp_token

    @property
    def ttl_s(self) -> float:
        return self.record.ttl_s

    @property
    def activity_ttl_s(self) -> float:
        return self.record.activity_ttl_s

    def touch(self) -> None:
        self.record.last_activity = time.time()

    def expiry_reason(self, now: float | None = None) -> str | None:
        """Why the session is over at ``now`` (epoch seconds), or None while it may go on."""
        return self.record.expiry_reason(time.time() if now is None else now, busy=self.busy > 0)

    def duration_ms(self) -> int:
        return int((time.time() - self.record.created_at) * 1000)


class SessionRegistry:
    """Opens, finds, expires and closes server sessions; at most ``max_sessions`` here."""

    def __init__(
        self,
        settings: ServerSettings,
        profiles: ProfileStore,
        factory: SessionFactory,
        *,
        remote_factory: RemoteFactory | None = None,
        store: SessionStore | None = None,
        replica: str = "local",
    ) -> None:
        """``replica``: this process's ``replica_id`` when the store is shared."""
        self.settings = settings
        self.profiles = profiles
        self.store = store if store is not None else MemoryStore()
        self.replica = replica
        self.endpoints = list(settings.browser_endpoints) or [LOCAL]
        self._remote_factory = remote_factory
        has_local = any(e.kind == "local" for e in self.endpoints)
        self._pool = BrowserPool(
            factory,
            settings.warm_browsers if has_local else 0,
            concurrency=settings.launch_concurrency,
            wait_s=settings.queue_timeout,
        )
        self._sessions: dict[str, ServerSession] = {}
        self._starting = 0
        self._ended: OrderedDict[str, str] = OrderedDict()
        self._lost: OrderedDict[str, None] = OrderedDict()  # ended past a limit: 410, not 404
        self._tasks: list[asyncio.Task[None]] = []
        self._closing: set[asyncio.Task[None]] = set()
        self.listeners: list[SessionListener] = []

    def __len__(self) -> int:
        return len(self._sessions)

    @property
    def browsers_ready(self) -> int:
        """Started browsers in reserve, waiting for a scrape."""
        return self._pool.ready

    @property
    def browsers_waiting(self) -> int:
        """Scrapes waiting for a browser to start."""
        return self._pool.waiting

    def serving_scrape(self) -> contextlib.AbstractContextManager[None]:
        """Around a scrape: spare browsers are not started meanwhile (see ``BrowserPool``)."""
        return self._pool.serving()

    def has(self, session_id: str) -> bool:
        """Whether this replica serves ``session_id``."""
        return session_id in self._sessions

    async def open(
        self,
        *,
        ttl_s: float | None = None,
        activity_ttl_s: float | None = None,
        profile: ProfileOptions | None = None,
        key_name: str = "",
        url: str | None = None,
    ) -> ServerSession:
        """Start a browser for a new session, loading its profile if it names one; ``key_name``
        is the name of the API key it is opened for.

        With ``AGENT_BLOCK_PRIVATE_ADDRESSES``, ``url`` (the page it is opened for, if any) is
        checked before a browser starts, and the browser context gets the routes that abort
        requests to private hosts.

        Raises:
            RequestError: SCRAPE_BLOCKED when ``url`` reaches a private address;
                TOO_MANY_SESSIONS when max_sessions are open here, every browser endpoint is
                full, or no browser could be started within the queue timeout; PROFILE_IN_USE
                when the profile has a writer (on any replica).
        """
        if url is not None and self.settings.block_private_addresses:
            await check_public_address(url)
        if len(self._sessions) + self._starting >= self.settings.max_sessions:
            raise RequestError(
                "TOO_MANY_SESSIONS",
                f"Too many browser sessions are open ({self.settings.max_sessions} allowed). "
                "Stop one (DELETE /v2/scrape/{scrapeId}/interact, or the MCP tool "
                "stop_interaction), wait for one to expire, or raise AGENT_MAX_SESSIONS.",
                retry_after_s=5,
            )
        session_id = str(uuid.uuid4())
        self._starting += 1
        try:
            endpoint, browser = await self._start(session_id, profile)
        finally:
            self._starting -= 1
        now = time.time()
        record = SessionRecord(
            id=session_id,
            owner=self.replica,
            endpoint=endpoint.model_dump(),
            context_id=getattr(browser.handle, "context_id", None),
            ttl_s=float(ttl_s or self.settings.session_ttl),
            activity_ttl_s=float(activity_ttl_s or self.settings.activity_ttl),
            created_at=now,
            last_activity=now,
            profile=profile.model_dump() if profile is not None else None,
            view_token=secrets.token_urlsafe(24),
            control_token=secrets.token_urlsafe(24),
            cdp_token=secrets.token_urlsafe(24),
            key_name=key_name,
        )
        session = ServerSession(session_id, browser, record, endpoint, profile)
        self._sessions[session_id] = session
        try:
            await self.store.save(record)
        except BaseException:
            await self.discard(session, "closed because the session store failed")
            raise
        self._tell(lambda listener: listener.session_opened(session_id))
        return session

    async def _start(
        self, session_id: str, profile: ProfileOptions | None
    ) -> tuple[Endpoint, BrowserSession]:
        """A place on an endpoint, the profile's writer lease and a browser with the profile
        and the address policy applied, for a new session; all given back if one fails."""
        endpoint: Endpoint | None = None
        writer = False
        try:
            endpoint = await self.store.claim_endpoint(
                self.endpoints, self.replica, uncapped=self.settings.max_sessions
            )
            if endpoint is None:
                total = sum(e.capacity or 0 for e in self.endpoints)
                raise RequestError(
                    "TOO_MANY_SESSIONS",
                    f"Every browser endpoint is full ({total} sessions in all). Stop a session "
                    "(DELETE /v2/scrape/{scrapeId}/interact), wait for one to expire, or add "
                    "capacity to AGENT_BROWSER_ENDPOINTS.",
                    retry_after_s=5,
                )
            if profile is not None and profile.save_changes:
                await self.profiles.acquire_writer(profile.name, session_id)
                writer = True
            browser = await self.browser_for(endpoint, None)
            try:
                if profile is not None:
                    await self.profiles.apply(profile.name, browser.context)
                if self.settings.block_private_addresses:
                    await block_private_requests(browser.context)
            except BaseException:
                await browser.close()
                raise
        except BaseException:
            if writer and profile is not None:
                await self.profiles.release_writer(profile.name, session_id)
            if endpoint is not None:
                await self.store.release_endpoint(endpoint, self.replica)
            raise
        return endpoint, browser

    def _tell(self, event: Callable[[SessionListener], None]) -> None:
        for listener in self.listeners:
            try:
                event(listener)
            except Exception:  # counting must never break a session's life
                log.exception("a session listener failed")

    async def browser_for(self, endpoint: Endpoint, context_id: str | None) -> BrowserSession:
        """A browser for a session on ``endpoint``: a local one from the pool, or a context on a
        remote endpoint (``context_id``: re-open that one)."""
        if endpoint.kind == "local":
            return await self._pool.take()
        if self._remote_factory is None:
            raise BrowserError(f"No way to open sessions on {endpoint.name} is configured.")
        return await self._remote_factory(endpoint, context_id)

    def admit(self, session: ServerSession) -> None:
        """Serve ``session`` here from now on: one this replica took over from a gone one."""
        self._sessions[session.id] = session

    def get(self, session_id: str) -> ServerSession:
        """The live session ``session_id`` served here, or a 404 saying why there is none."""
        session = self._sessions.get(session_id)
        if session is not None and session.expiry_reason() is None:
            return session
        if session is not None:  # expired but not yet reaped: reap it now, in the background
            reason = session.expiry_reason() or "it expired"
            self._schedule_close(session, f"expired: {reason}")
        raise self.not_found(session_id, self._ended.get(session_id))

    @staticmethod
    def not_found(session_id: str, ended: str | None) -> RequestError:
        """The 404 for a session that is not (or no longer) served; ``ended``: why it ended."""
        message = f"No active session for scrapeId {session_id!r}"
        message += f": it was {ended}." if ended else "."
        return RequestError(
            "SESSION_NOT_FOUND",
            message + " Scrape the page again (POST /v2/scrape, or the MCP tool scrape) to get a "
            "new session.",
        )

    @contextlib.asynccontextmanager
    async def use(self, session_id: str) -> AsyncIterator[ServerSession]:
        """The session, marked busy (so inactivity cannot expire it) for the block's duration;
        a session whose browser turns out to be gone is closed.

        Raises:
            SessionLostError: (410) the session's browser was ended for going past a limit of
                its own (its memory), now or before; it is closed.
        """
        if session_id in self._lost:
            raise SessionLostError(f"The session was {self._ended.get(session_id)}.")
        session = self.get(session_id)
        await self._end_if_past_limit(session, None)
        session.busy += 1
        self._touch(session)
        try:
            yield session
        except Exception as exc:
            await self._end_if_past_limit(session, exc)
            if isinstance(exc, SessionLostError):
                await self.discard(session, "closed because its browser was lost")
            raise
        finally:
            session.busy -= 1
            self._touch(session)

    async def _end_if_past_limit(self, session: ServerSession, cause: Exception | None) -> None:
        """Close the session and raise 410 if its browser was ended for going past its memory
        limit (the call that ran into it may have failed for that very reason: ``cause``)."""
        ended = session.browser_session.lost_reason
        if ended is None:
            return
        reason = f"closed because {ended}"
        await self.discard(session, reason)
        self._lost[session.id] = None
        while len(self._lost) > _ENDED_MEMORY:
            self._lost.popitem(last=False)
        raise SessionLostError(f"The session was {reason}.") from cause

    def _touch(self, session: ServerSession) -> None:
        session.touch()
        now = time.monotonic()
        if self.store.shared and now - session._activity_written >= _ACTIVITY_WRITE_S:
            session._activity_written = now
            task = asyncio.get_running_loop().create_task(
                self.store.touch(session.id, session.record.last_activity)
            )
            task.add_done_callback(_log_task_failure)

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
            # A browser whose process is gone (in a box, Chromium outlives it by a moment)
            # has nothing left to save: what it would still answer is not a state it kept.
            alive = session.browser_session.alive
            if save and profile is not None and profile.save_changes and alive:
                try:
                    path = await self.profiles.save(profile.name, session.browser_session.context)
                    log.info("session %s: saved profile %r to %s", session.id, profile.name, path)
                except Exception:
                    log.exception("session %s: could not save profile %r", session.id, profile.name)
        finally:
            try:
                if profile is not None and profile.save_changes:
                    await self.profiles.release_writer(profile.name, session.id)
                await self.store.end(session.id, reason)
                await self.store.release_endpoint(session.endpoint, self.replica)
            finally:
                self._tell(lambda listener: listener.session_ended(session.id, reason))
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

    async def close_to_the_end(self, session: ServerSession, reason: str) -> None:
        """Close ``session`` for a background job (the reaper, the sweeper), in a task of its
        own that ``close_all`` waits for: a shutdown cancels the job, and cancelling a close
        half-way would leave the session's executors, its browser and the Playwright driver
        running."""
        task = asyncio.get_running_loop().create_task(self._close(session, reason))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
        task.add_done_callback(_log_task_failure)
        await asyncio.shield(task)

    def _remember(self, session_id: str, reason: str) -> None:
        self._ended[session_id] = reason
        while len(self._ended) > _ENDED_MEMORY:
            self._ended.popitem(last=False)

    async def reap(self) -> int:
        """Close every expired session of this replica now; return how many were closed."""
        expired = [
            (s, reason)
            for s in list(self._sessions.values())
            if (reason := s.expiry_reason()) is not None
        ]
        for session, reason in expired:
            with contextlib.suppress(Exception):  # logged by the closing task
                await self.close_to_the_end(session, f"expired: {reason}")
        return len(expired)

    async def end_unserved(self, record: SessionRecord, reason: str, owner: str) -> None:
        """End a session that no replica serves: its record, the place it held on its endpoint
        (counted for ``owner``) and its profile's writer lease; the listeners are told."""
        await self.store.end(record.id, reason)
        await self.store.release_endpoint(record.browser_endpoint, owner)
        if record.profile and record.profile.get("save_changes"):
            await self.profiles.release_writer(str(record.profile["name"]), record.id)
        self._tell(lambda listener: listener.session_ended(record.id, reason))

    def start(self) -> None:
        """Start the reaper and the spare browsers (inside the event loop)."""
        self._pool.refill()
        if not self._tasks:
            self._tasks.append(asyncio.get_running_loop().create_task(self._reap_forever()))

    async def _reap_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.reap_interval)
            try:
                await self.reap()
            except Exception:  # the reaper must outlive any one failure
                log.exception("session reaper failed")

    async def close_all(self) -> None:
        """Stop the reaper and close every session (server shutdown), saving profiles; then the
        session store's connection (stop the replica coordination before)."""
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
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
        await self.store.close()


def _log_task_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("a session task failed: %s", task.exception())
