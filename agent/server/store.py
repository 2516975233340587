"""Session state that must outlive one server process, behind one small interface.

What replicas share: the session table (which replica owns each session, which browser endpoint
and context it lives on, its TTL and inactivity deadlines, its live-view and DevTools tokens),
how many sessions each browser endpoint holds, the profile writer leases, which replicas are
alive, and who sweeps the sessions of replicas that are gone. ``MemoryStore`` keeps it in this
process (one server, the default); ``RedisStore`` keeps it in Redis (``AGENT_REDIS_URL``), so any
replica can answer for any session.

Times are wall-clock (epoch seconds), since replicas compare them.
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import redis.asyncio as redis

from agent.browser.providers import Endpoint

__all__ = ["MemoryStore", "RedisStore", "SessionRecord", "SessionStore", "open_store"]

_ENDED_MEMORY = 1000  # how many ended sessions a 404 can still explain
_ENDED_TTL_S = 3600


@dataclass
class SessionRecord:
    """One session as every replica sees it."""

    id: str
    owner: str
    """The base URL of the replica serving it."""
    endpoint: dict[str, Any]
    """The ``Endpoint`` its browser lives on."""
    context_id: str | None
    """Its browser context on a remote endpoint (what a take-over re-opens)."""
    ttl_s: float
    activity_ttl_s: float
    created_at: float
    last_activity: float
    profile: dict[str, Any] | None
    view_token: str
    control_token: str
    cdp_token: str

    @property
    def browser_endpoint(self) -> Endpoint:
        return Endpoint.model_validate(self.endpoint)

    def expiry_reason(self, now: float, *, busy: bool = False) -> str | None:
        """Why the session is over at ``now`` (epoch seconds), or None while it may go on."""
        if now - self.created_at >= self.ttl_s:
            return f"its TTL of {self.ttl_s:g} s ran out"
        if not busy and now - self.last_activity >= self.activity_ttl_s:
            return f"it was idle for longer than its activity TTL of {self.activity_ttl_s:g} s"
        return None

    def dumps(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def loads(cls, text: str | bytes) -> SessionRecord:
        return cls(**json.loads(text))


class SessionStore(ABC):
    """The shared state of the sessions of one deployment (one server, or many replicas)."""

    shared = False
    """Whether other replicas see this store (so a session may live on another replica)."""

    @abstractmethod
    async def save(self, record: SessionRecord) -> None: ...

    @abstractmethod
    async def load(self, session_id: str) -> SessionRecord | None: ...

    @abstractmethod
    async def records(self) -> list[SessionRecord]: ...

    @abstractmethod
    async def touch(self, session_id: str, at: float) -> None:
        """Note activity on a session (its inactivity deadline moves)."""

    @abstractmethod
    async def end(self, session_id: str, reason: str) -> None:
        """Remove a session, remembering for a while why it ended."""

    @abstractmethod
    async def ended(self, session_id: str) -> str | None:
        """Why a session that no longer exists ended, if it is remembered."""

    @abstractmethod
    async def transfer(self, session_id: str, old_owner: str, new_owner: str) -> bool:
        """Make ``new_owner`` the owner if ``old_owner`` still is; False if someone else won."""

    @abstractmethod
    async def claim_endpoint(self, endpoints: Sequence[Endpoint]) -> Endpoint | None:
        """Count a new session on the least-loaded endpoint with room; None when all are full.

        An endpoint without a capacity counts as never full.
        """

    @abstractmethod
    async def release_endpoint(self, endpoint: Endpoint) -> None: ...

    @abstractmethod
    async def acquire_profile(self, name: str, holder: str) -> str | None:
        """Make ``holder`` the profile's writer; the other holder's id if it already has one."""

    @abstractmethod
    async def release_profile(self, name: str, holder: str) -> None: ...

    @abstractmethod
    async def profile_writer(self, name: str) -> str | None: ...

    @abstractmethod
    async def heartbeat(self, replica: str, ttl_s: float) -> None:
        """Say ``replica`` is alive for the next ``ttl_s`` seconds."""

    @abstractmethod
    async def alive(self, replica: str) -> bool: ...

    @abstractmethod
    async def claim_sweep(self, replica: str, ttl_s: float) -> bool:
        """Whether ``replica`` may sweep (expire sessions of gone replicas) for ``ttl_s``: one
        replica at a time does, so every deadline is enforced once."""

    async def close(self) -> None:
        return None


class MemoryStore(SessionStore):
    """The store of a single server process."""

    def __init__(self) -> None:
        self._records: dict[str, SessionRecord] = {}
        self._ended: OrderedDict[str, str] = OrderedDict()
        self._loads: dict[str, int] = {}
        self._profiles: dict[str, str] = {}

    async def save(self, record: SessionRecord) -> None:
        self._records[record.id] = record

    async def load(self, session_id: str) -> SessionRecord | None:
        return self._records.get(session_id)

    async def records(self) -> list[SessionRecord]:
        return list(self._records.values())

    async def touch(self, session_id: str, at: float) -> None:
        record = self._records.get(session_id)
        if record is not None:
            record.last_activity = at

    async def end(self, session_id: str, reason: str) -> None:
        self._records.pop(session_id, None)
        self._ended[session_id] = reason
        while len(self._ended) > _ENDED_MEMORY:
            self._ended.popitem(last=False)

    async def ended(self, session_id: str) -> str | None:
        return self._ended.get(session_id)

    async def transfer(self, session_id: str, old_owner: str, new_owner: str) -> bool:
        record = self._records.get(session_id)
        if record is None or record.owner != old_owner:
            return False
        record.owner = new_owner
        return True

    async def claim_endpoint(self, endpoints: Sequence[Endpoint]) -> Endpoint | None:
        best = _least_loaded(endpoints, {e.name: self._loads.get(e.name, 0) for e in endpoints})
        if best is not None:
            self._loads[best.name] = self._loads.get(best.name, 0) + 1
        return best

    async def release_endpoint(self, endpoint: Endpoint) -> None:
        self._loads[endpoint.name] = max(0, self._loads.get(endpoint.name, 0) - 1)

    async def acquire_profile(self, name: str, holder: str) -> str | None:
        current = self._profiles.setdefault(name, holder)
        return None if current == holder else current

    async def release_profile(self, name: str, holder: str) -> None:
        if self._profiles.get(name) == holder:
            del self._profiles[name]

    async def profile_writer(self, name: str) -> str | None:
        return self._profiles.get(name)

    async def heartbeat(self, replica: str, ttl_s: float) -> None:
        return None

    async def alive(self, replica: str) -> bool:
        return True

    async def claim_sweep(self, replica: str, ttl_s: float) -> bool:
        return True


def _least_loaded(endpoints: Sequence[Endpoint], loads: dict[str, int]) -> Endpoint | None:
    """The endpoint with the lowest sessions/capacity that still has room."""
    best: Endpoint | None = None
    best_load = float("inf")
    for endpoint in endpoints:
        used = loads.get(endpoint.name, 0)
        if endpoint.capacity is None:
            load = used / 1_000_000  # unbounded: always room, least-loaded still preferred
        elif used >= endpoint.capacity:
            continue
        else:
            load = used / endpoint.capacity
        if load < best_load:
            best, best_load = endpoint, load
    return best


# Atomically: read every endpoint's load, pick the least-loaded one with room, count it.
_CLAIM = """
local best, best_load = nil, nil
for i, name in ipairs(KEYS) do
  local used = tonumber(redis.call('HGET', ARGV[1], name) or '0')
  local capacity = tonumber(ARGV[i + 1])
  local load = nil
  if capacity == 0 then load = used / 1000000
  elseif used < capacity then load = used / capacity end
  if load ~= nil and (best_load == nil or load < best_load) then best, best_load = i, load end
end
if best == nil then return -1 end
redis.call('HINCRBY', ARGV[1], KEYS[best], 1)
return best
"""

_TRANSFER = """
local text = redis.call('HGET', KEYS[1], ARGV[1])
if not text then return 0 end
local record = cjson.decode(text)
if record['owner'] ~= ARGV[2] then return 0 end
record['owner'] = ARGV[3]
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(record))
return 1
"""

_RELEASE_IF_HOLDER = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisStore(SessionStore):
    """The store of replicas sharing one Redis (``AGENT_REDIS_URL``); keys under ``prefix``."""

    shared = True

    def __init__(self, url: str, *, prefix: str = "agent:") -> None:
        self._redis = redis.from_url(url, decode_responses=True)
        self._prefix = prefix
        self._claim = self._redis.register_script(_CLAIM)
        self._transfer = self._redis.register_script(_TRANSFER)
        self._release = self._redis.register_script(_RELEASE_IF_HOLDER)

    def _key(self, *parts: str) -> str:
        return self._prefix + ":".join(parts)

    async def ping(self) -> None:
        await self._redis.ping()

    async def save(self, record: SessionRecord) -> None:
        await self._redis.hset(self._key("sessions"), record.id, record.dumps())

    async def load(self, session_id: str) -> SessionRecord | None:
        # One round trip: every request a replica forwards looks its session up first.
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hget(self._key("sessions"), session_id)
            pipe.hget(self._key("activity"), session_id)
            text, seen = await pipe.execute()
        return _with_activity(SessionRecord.loads(text), seen) if text else None

    async def records(self) -> list[SessionRecord]:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self._key("sessions"))
            pipe.hgetall(self._key("activity"))
            stored, seen = await pipe.execute()
        return [
            _with_activity(SessionRecord.loads(text), seen.get(session_id))
            for session_id, text in stored.items()
        ]

    async def touch(self, session_id: str, at: float) -> None:
        await self._redis.hset(self._key("activity"), session_id, str(at))

    async def end(self, session_id: str, reason: str) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hdel(self._key("sessions"), session_id)
            pipe.hdel(self._key("activity"), session_id)
            pipe.set(self._key("ended", session_id), reason, ex=_ENDED_TTL_S)
            await pipe.execute()

    async def ended(self, session_id: str) -> str | None:
        reason = await self._redis.get(self._key("ended", session_id))
        return str(reason) if reason is not None else None

    async def transfer(self, session_id: str, old_owner: str, new_owner: str) -> bool:
        done = await self._transfer(
            keys=[self._key("sessions")], args=[session_id, old_owner, new_owner]
        )
        return bool(done)

    async def claim_endpoint(self, endpoints: Sequence[Endpoint]) -> Endpoint | None:
        if not endpoints:
            return None
        chosen = await self._claim(
            keys=[e.name for e in endpoints],
            args=[self._key("loads"), *(str(e.capacity or 0) for e in endpoints)],
        )
        return None if int(chosen) < 0 else endpoints[int(chosen) - 1]

    async def release_endpoint(self, endpoint: Endpoint) -> None:
        left = await self._redis.hincrby(self._key("loads"), endpoint.name, -1)
        if int(left) < 0:
            await self._redis.hset(self._key("loads"), endpoint.name, 0)

    async def acquire_profile(self, name: str, holder: str) -> str | None:
        key = self._key("profile", name)
        if await self._redis.set(key, holder, nx=True):
            return None
        current = await self._redis.get(key)
        return None if current in (None, holder) else str(current)

    async def release_profile(self, name: str, holder: str) -> None:
        await self._release(keys=[self._key("profile", name)], args=[holder])

    async def profile_writer(self, name: str) -> str | None:
        current = await self._redis.get(self._key("profile", name))
        return str(current) if current is not None else None

    async def heartbeat(self, replica: str, ttl_s: float) -> None:
        await self._redis.set(self._key("replica", replica), str(time.time()), px=int(ttl_s * 1000))

    async def alive(self, replica: str) -> bool:
        return bool(await self._redis.exists(self._key("replica", replica)))

    async def claim_sweep(self, replica: str, ttl_s: float) -> bool:
        key = self._key("sweeper")
        if await self._redis.set(key, replica, nx=True, px=int(ttl_s * 1000)):
            return True
        if await self._redis.get(key) == replica:
            await self._redis.pexpire(key, int(ttl_s * 1000))
            return True
        return False

    async def close(self) -> None:
        await self._redis.aclose()


def open_store(redis_url: str | None) -> SessionStore:
    """The Redis store when a URL is given, else this process's own."""
    return RedisStore(redis_url) if redis_url else MemoryStore()


def _with_activity(record: SessionRecord, seen: str | bytes | None) -> SessionRecord:
    """The record with its latest activity, which replicas note apart (``touch``)."""
    if seen is not None:
        record.last_activity = max(record.last_activity, float(seen))
    return record
