"""The sessions a server keeps open between calls, keyed by scrapeId, and their expiry.

Each scrape opens one :class:`ServerSession`: a browser of its own here, or a browser context on
a remote endpoint (the least-loaded one with room, ``AGENT_BROWSER_ENDPOINTS``). It lives until it
is stopped, until its TTL runs out (however busy it is), or until it has been idle for its
activity TTL; the reaper closes expired sessions and writes their profiles back.

The session table lives in a ``SessionStore``: this process's memory, or Redis shared by
replicas. A replica is one process (``replica_id``: its URL and an id of its own, so a process
restarted at the same URL is a new replica and its predecessor one that is gone). A replica
serves the sessions it owns; ``locate`` tells the others where a session lives, and when its
owner is gone and its browser is a context on a CDP endpoint, ``take_over`` re-opens it here.
Each replica reaps its own sessions; one replica at a time (the sweeper) also ends the sessions
of replicas that are gone: at once those whose browser went with their replica (so their
profile leases and endpoint capacity are free again), the CDP ones when they expire.
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
from dataclasses import dataclass
from typing import Protocol

from agent.browser.providers import LOCAL, Endpoint
from agent.browser.session import BrowserSession
from agent.errors import BrowserError, RequestError, SessionLostError
from agent.server.pool import BrowserPool
from agent.server.profiles import ProfileStore
from agent.server.schemas import ProfileOptions
from agent.server.settings import ServerSettings
from agent.server.store import MemoryStore, SessionRecord, SessionStore, replica_url

__all__ = [
    "Location",
    "RemoteFactory",
    "ServerSession",
    "SessionFactory",
    "SessionListener",
    "SessionRegistry",
]

log = logging.getLogger(__name__)

SessionFactory = Callable[[], Awaitable[BrowserSession]]
"""Starts a local browser for a new session."""
RemoteFactory = Callable[[Endpoint, "str | None"], Awaitable[BrowserSession]]
"""Opens a session's browser context on a remote endpoint (a new one, or the given one)."""

_ENDED_MEMORY = 1000  # how many ended sessions a 404 can still explain
HEARTBEAT_S = 2.0
"""How often a replica says it is alive; it counts as gone after three missed beats."""
LOST = "lost when its replica went away"
"""Why a session ended whose browser went away with its replica (the store remembers it)."""
_LOST_DETAIL = "the replica that served it is gone, and its browser with it"
_ACTIVITY_WRITE_S = 2.0  # the least time between two writes of a session's activity


class SessionListener(Protocol):
    """Told when a session opens here and when one ends (here, or by the sweeper)."""

    def session_opened(self, session_id: str) -> None: ...

    def session_ended(self, session_id: str, reason: str) -> None: ...


@dataclass(frozen=True)
class Location:
    """Where a session a request names lives, seen from this replica."""

    kind: str
    """``here``, ``elsewhere`` (``owner`` serves it), ``gone`` (its owner is gone: with its
    browser when ``reason`` says so, else it can be taken over) or ``unknown`` (with why it
    ended in ``reason``, when that is remembered)."""
    owner: str = ""
    """The owner's ``replica_id``."""
    reason: str = ""


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
        self._taking_over: dict[str, asyncio.Future[ServerSession]] = {}
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
    ) -> ServerSession:
        """Start a browser for a new session, loading its profile if it names one; ``key_name``
        is the name of the API key it is opened for.

        Raises:
            RequestError: TOO_MANY_SESSIONS when max_sessions are open here, every browser
                endpoint is full, or no browser could be started within the queue timeout;
                PROFILE_IN_USE when the profile has a writer (on any replica).
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
        self._starting += 1
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
            browser = await self._browser_for(endpoint, None)
            try:
                if profile is not None:
                    await self.profiles.apply(profile.name, browser.context)
            except BaseException:
                await browser.close()
                raise
        except BaseException:
            if writer and profile is not None:
                await self.profiles.release_writer(profile.name, session_id)
            if endpoint is not None:
                await self.store.release_endpoint(endpoint, self.replica)
            raise
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

    def _tell(self, event: Callable[[SessionListener], None]) -> None:
        for listener in self.listeners:
            try:
                event(listener)
            except Exception:  # counting must never break a session's life
                log.exception("a session listener failed")

    async def _browser_for(self, endpoint: Endpoint, context_id: str | None) -> BrowserSession:
        if endpoint.kind == "local":
            return await self._pool.take()
        if self._remote_factory is None:
            raise BrowserError(f"No way to open sessions on {endpoint.name} is configured.")
        return await self._remote_factory(endpoint, context_id)

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

    async def locate(self, session_id: str, *, refused_by: str | None = None) -> Location:
        """Where ``session_id`` lives: here, on another live replica, or nowhere any more.

        ``refused_by``: a replica that just refused a connection, which counts as gone whatever
        its last heartbeat said (a process killed outright leaves its heartbeat for seconds).
        So does an earlier process at this replica's own URL: a request forwarded there would
        come back here, and the predecessor of a process that was restarted within seconds
        still has its heartbeat.
        """
        if session_id in self._sessions:
            return Location("here")
        record = await self.store.load(session_id)
        if record is None:
            ended = await self.store.ended(session_id) or ""
            if ended == LOST:  # the sweeper ended it: the same 410 as before it did
                return Location("gone", reason=_LOST_DETAIL)
            return Location("unknown", reason=ended)
        if record.owner == self.replica:
            return Location("unknown")  # ours, but its browser is gone: the 404 explains
        gone = record.owner == refused_by or replica_url(record.owner) == replica_url(self.replica)
        if not gone and await self.store.alive(record.owner):
            return Location("elsewhere", owner=record.owner)
        if record.browser_endpoint.kind == "cdp":
            return Location("gone", owner=record.owner)  # its context can be re-opened here
        return Location("gone", owner=record.owner, reason=_LOST_DETAIL)

    async def take_over(self, session_id: str, old_owner: str) -> ServerSession:
        """Serve a session whose replica is gone, by re-opening its remote browser context here.

        Raises:
            RequestError: SESSION_NOT_FOUND when another replica took it first or it ended;
                SESSION_LOST when its browser cannot be re-opened.
        """
        pending = self._taking_over.get(session_id)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[ServerSession] = asyncio.get_running_loop().create_future()
        self._taking_over[session_id] = future
        try:
            session = await self._take_over(session_id, old_owner)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: a waiter may not exist
            raise
        else:
            future.set_result(session)
            return session
        finally:
            del self._taking_over[session_id]

    async def _take_over(self, session_id: str, old_owner: str) -> ServerSession:
        record = await self.store.load(session_id)
        if record is None or not await self.store.transfer(session_id, old_owner, self.replica):
            raise self.not_found(session_id, await self.store.ended(session_id))
        record.owner = self.replica
        endpoint = record.browser_endpoint
        try:
            browser = await self._browser_for(endpoint, record.context_id)
        except Exception as exc:
            await self._end_record(record, LOST, old_owner)
            raise SessionLostError(
                f"The session's replica is gone and its browser context could not be re-opened "
                f"({exc})."
            ) from exc
        profile = ProfileOptions.model_validate(record.profile) if record.profile else None
        session = ServerSession(session_id, browser, record, endpoint, profile)
        self._sessions[session_id] = session
        log.info("session %s taken over from %s (its replica is gone)", session_id, old_owner)
        return session

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
            if save and profile is not None and profile.save_changes:
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

    async def _close_to_the_end(self, session: ServerSession, reason: str) -> None:
        """Close ``session`` for the reaper, in a task of its own that ``close_all`` waits for:
        a shutdown cancels the reaper, and cancelling a close half-way would leave the session's
        executors, its browser and the Playwright driver running."""
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
        """Close every expired session of this replica now (and, as the sweeper, end those of
        replicas that are gone); return how many were closed here."""
        expired = [
            (s, reason)
            for s in list(self._sessions.values())
            if (reason := s.expiry_reason()) is not None
        ]
        for session, reason in expired:
            with contextlib.suppress(Exception):  # logged by the closing task
                await self._close_to_the_end(session, f"expired: {reason}")
        if self.store.shared:
            await self._sweep()
        return len(expired)

    async def _sweep(self) -> None:
        """As the one sweeper: end the sessions of replicas that are gone. Those whose browser
        went with their replica end at once, freeing their profile leases and endpoint
        capacity; a CDP context outlives its replica, so its session waits to be taken over,
        and when it expires is taken over to be closed, not left behind on the endpoint."""
        if not await self.store.claim_sweep(self.replica, self.settings.reap_interval * 3):
            return
        now = time.time()
        for record in await self.store.records():
            # Only the heartbeat tells here, not the URL as in ``locate``: ``agent mcp`` over stdio
            # shares the store under the URL of an ``agent serve`` on its machine, and has
            # sessions of its own that no sweeper may end while it is alive.
            if record.owner == self.replica or await self.store.alive(record.owner):
                continue
            expired = record.expiry_reason(now)
            if record.browser_endpoint.kind == "cdp":
                if expired is None:
                    continue
                try:
                    session = await self.take_over(record.id, record.owner)
                except Exception:
                    log.warning("could not take over expired session %s to close it", record.id)
                else:
                    await self._close_to_the_end(session, f"expired: {expired}")
                    continue
            if not await self.store.transfer(record.id, record.owner, self.replica):
                continue  # another replica took it over or ended it meanwhile
            reason = f"expired: {expired} (its replica was gone)" if expired else LOST
            await self._end_record(record, reason, record.owner)
            log.info("session %s of gone replica %s ended: %s", record.id, record.owner, reason)

    async def _end_record(self, record: SessionRecord, reason: str, owner: str) -> None:
        """End a session that no replica serves: its record, the place it held on its endpoint
        (counted for ``owner``) and its profile's writer lease."""
        await self.store.end(record.id, reason)
        await self.store.release_endpoint(record.browser_endpoint, owner)
        if record.profile and record.profile.get("save_changes"):
            await self.profiles.release_writer(str(record.profile["name"]), record.id)
        self._tell(lambda listener: listener.session_ended(record.id, reason))

    def start(self) -> None:
        """Start the reaper, the heartbeat and the spare browsers (inside the event loop)."""
        self._pool.refill()
        if not self._tasks:
            loop = asyncio.get_running_loop()
            self._tasks.append(loop.create_task(self._reap_forever()))
            if self.store.shared:
                self._tasks.append(loop.create_task(self._beat_forever()))

    async def _reap_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.reap_interval)
            try:
                await self.reap()
            except Exception:  # the reaper must outlive any one failure
                log.exception("session reaper failed")

    async def _beat_forever(self) -> None:
        while True:
            try:
                await self.store.heartbeat(self.replica, HEARTBEAT_S * 3)
            except Exception:
                log.exception("replica heartbeat failed")
            await asyncio.sleep(HEARTBEAT_S)

    async def close_all(self) -> None:
        """Stop the reaper and close every session (server shutdown), saving profiles; then the
        session store's connection."""
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
