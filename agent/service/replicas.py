"""What replicas sharing one session store do about each other's sessions.

A replica is one process (``replica_id``: its URL and an id of its own, so a process restarted at
the same URL is a new replica and its predecessor one that is gone). Each serves the sessions it
owns (:class:`~agent.service.registry.SessionRegistry`); this module is the rest:

* **heartbeat**: every replica says it is alive every ``HEARTBEAT_S``;
* **locate**: where a session a request names lives: here, on another live replica (whom the HTTP
  face forwards the request to, ``agent.server.forwarder``), or nowhere any more;
* **take over**: when a session's owner is gone and its browser is a context on a CDP endpoint,
  re-open it here;
* **sweep**: one replica at a time (the sweeper) ends the sessions of replicas that are gone: at
  once those whose browser went with their replica (so their profile leases and endpoint
  capacity are free again), the CDP ones when they expire.

With a store of this process's own (no ``AGENT_REDIS_URL``) there are no other replicas, and
nothing here runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

from agent.errors import SessionLostError
from agent.service.registry import ServerSession, SessionRegistry
from agent.service.schemas import ProfileOptions
from agent.service.store import replica_url

__all__ = ["HEARTBEAT_S", "LOST", "Location", "ReplicaCoordinator"]

log = logging.getLogger(__name__)

HEARTBEAT_S = 2.0
"""How often a replica says it is alive; it counts as gone after three missed beats."""
LOST = "lost when its replica went away"
"""Why a session ended whose browser went away with its replica (the store remembers it)."""
_LOST_DETAIL = "the replica that served it is gone, and its browser with it"


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


class ReplicaCoordinator:
    """This replica's part in a deployment of several: heartbeat, locate, take over, sweep."""

    def __init__(self, registry: SessionRegistry) -> None:
        self.registry = registry
        self.store = registry.store
        self.replica = registry.replica
        self._taking_over: dict[str, asyncio.Future[ServerSession]] = {}
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start the heartbeat and the sweeper (inside the event loop), when the store is
        shared with other replicas."""
        if self.store.shared and not self._tasks:
            loop = asyncio.get_running_loop()
            self._tasks.append(loop.create_task(self._beat_forever()))
            self._tasks.append(loop.create_task(self._sweep_forever()))

    async def stop(self) -> None:
        """Stop the heartbeat and the sweeper (before the registry closes the store)."""
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def locate(self, session_id: str, *, refused_by: str | None = None) -> Location:
        """Where ``session_id`` lives: here, on another live replica, or nowhere any more.

        ``refused_by``: a replica that just refused a connection, which counts as gone whatever
        its last heartbeat said (a process killed outright leaves its heartbeat for seconds).
        So does an earlier process at this replica's own URL: a request forwarded there would
        come back here, and the predecessor of a process that was restarted within seconds
        still has its heartbeat.
        """
        if self.registry.has(session_id):
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
            raise self.registry.not_found(session_id, await self.store.ended(session_id))
        record.owner = self.replica
        endpoint = record.browser_endpoint
        try:
            browser = await self.registry.browser_for(endpoint, record.context_id)
        except Exception as exc:
            await self.registry.end_unserved(record, LOST, old_owner)
            raise SessionLostError(
                f"The session's replica is gone and its browser context could not be re-opened "
                f"({exc})."
            ) from exc
        profile = ProfileOptions.model_validate(record.profile) if record.profile else None
        session = ServerSession(session_id, browser, record, endpoint, profile)
        self.registry.admit(session)
        log.info("session %s taken over from %s (its replica is gone)", session_id, old_owner)
        return session

    async def sweep(self) -> None:
        """As the one sweeper: end the sessions of replicas that are gone. Those whose browser
        went with their replica end at once, freeing their profile leases and endpoint
        capacity; a CDP context outlives its replica, so its session waits to be taken over,
        and when it expires is taken over to be closed, not left behind on the endpoint."""
        if not await self.store.claim_sweep(self.replica, self.registry.settings.reap_interval * 3):
            return
        now = time.time()
        for record in await self.store.records():
            # Only the heartbeat tells here, not the URL as in ``locate``: ``agent mcp`` over
            # stdio shares the store under the URL of an ``agent serve`` on its machine, and has
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
                    await self.registry.close_to_the_end(session, f"expired: {expired}")
                    continue
            if not await self.store.transfer(record.id, record.owner, self.replica):
                continue  # another replica took it over or ended it meanwhile
            reason = f"expired: {expired} (its replica was gone)" if expired else LOST
            await self.registry.end_unserved(record, reason, record.owner)
            log.info("session %s of gone replica %s ended: %s", record.id, record.owner, reason)

    async def _beat_forever(self) -> None:
        while True:
            try:
                await self.store.heartbeat(self.replica, HEARTBEAT_S * 3)
            except Exception:
                log.exception("replica heartbeat failed")
            await asyncio.sleep(HEARTBEAT_S)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.registry.settings.reap_interval)
            try:
                await self.sweep()
            except Exception:  # the sweeper must outlive any one failure
                log.exception("replica sweep failed")
