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
import secrets
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import redis.asyncio as redis

from agent.browser.providers import Endpoint

__all__ = [
    "MemoryStore",
    "RedisStore",
    "SessionRecord",
    "SessionStore",
    "open_store",
    "replica_id",
    "replica_url",
]

_ENDED_MEMORY = 1000  # how many ended sessions a 404 can still explain
_ENDED_TTL_S = 3600


def replica_id(url: str) -> str:
    """An identity for this replica process: its URL, then ``#`` and an id of its own.

    The URL alone is not enough: a replica restarted at the same address would take over its
    dead predecessor's heartbeat, and the predecessor's sessions would never count as orphaned
    (their profile leases and endpoint capacity held for good). With a fresh id per process, the
    predecessor is a replica that is gone like any other.
    """
    return f"{url}#{secrets.token_hex(6)}"


def replica_url(replica: str) -> str:
    """Where the replica ``replica`` (a ``replica_id``) is reached: its id less the process id."""
    url, sep, _ = replica.rpartition("#")
    return url if sep else replica


@dataclass
class SessionRecord:
    """One session as every replica sees it."""

    id: str
    owner: str
    """The replica serving it: its ``replica_id`` (base URL, ``#``, process id)."""
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
    key_name: str = ""
    """The name of the API key the session was opened for (never the key)."""

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
    async def claim_endpoint(
        self, endpoints: Sequence[Endpoint], replica: str, *, uncapped: int
    ) -> Endpoint | None:
        """Count a new session of ``replica`` on the least-loaded endpoint with room (see
        ``least_loaded``); None when all are full. ``uncapped``: what an endpoint without a
        capacity counts as holding when loads are compared (it is never full).
        """

    @abstractmethod
    async def release_endpoint(self, endpoint: Endpoint, replica: str) -> None:
        """Uncount a session that ``replica`` claimed on ``endpoint``."""

    @abstractmethod
    async def endpoint_load(self, endpoint: Endpoint, replica: str) -> int:
        """Sessions counted on ``endpoint`` (those of ``replica``, when it is ``local``)."""

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

    async def replica_urls(self) -> set[str]:
        """The URLs of the replicas whose heartbeat is current (none for a store of one)."""
        return set()

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

    async def claim_endpoint(
        self, endpoints: Sequence[Endpoint], replica: str, *, uncapped: int
    ) -> Endpoint | None:
        keys = [load_key(e, replica) for e in endpoints]
        used = [self._loads.get(key, 0) for key in keys]
        best = least_loaded([e.capacity for e in endpoints], used, uncapped=uncapped)
        if best is None:
            return None
        self._loads[keys[best]] = used[best] + 1
        return endpoints[best]

    async def release_endpoint(self, endpoint: Endpoint, replica: str) -> None:
        key = load_key(endpoint, replica)
        left = self._loads.get(key, 0) - 1
        if left > 0:
            self._loads[key] = left
        else:
            self._loads.pop(key, None)

    async def endpoint_load(self, endpoint: Endpoint, replica: str) -> int:
        return self._loads.get(load_key(endpoint, replica), 0)

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


def load_key(endpoint: Endpoint, replica: str) -> str:
    """What an endpoint's sessions are counted under: a remote endpoint's count is shared by
    every replica; ``local`` means each replica's own machine, so each counts its own."""
    return f"local@{replica}" if endpoint.kind == "local" else endpoint.name


def least_loaded(
    capacities: Sequence[int | None], used: Sequence[int], *, uncapped: int
) -> int | None:
    """The index of the endpoint whose sessions fill the smallest share of its capacity, among
    those with room; the first listed wins a tie. None when every endpoint is full.

    Shares, not counts, so a big endpoint takes proportionally more than a small one, and not
    first-fit, so no endpoint fills up while another idles. An endpoint without a capacity is
    never full and counts as holding ``uncapped`` (the replica's AGENT_MAX_SESSIONS, what its
    own machine is sized for): ``[local, cdp of 8]`` with 10 sessions allowed shares them out
    in proportion to 10 and 8, where counting the uncapped one as near-empty whatever it held
    sent it every session after the second. ``_CLAIM`` below is the same rule in Lua.
    """
    best: int | None = None
    best_share = 0.0
    for index, (capacity, count) in enumerate(zip(capacities, used, strict=True)):
        if capacity is not None and count >= capacity:
            continue
        share = count / (capacity or max(1, uncapped))
        if best is None or share < best_share:
            best, best_share = index, share
    return best


# Atomically: read every endpoint's load, pick the least-loaded one with room (as
# ``least_loaded``), count it. KEYS: load keys; ARGV: loads hash, uncapped, capacities (0: none).
_CLAIM = """
local uncapped = math.max(1, tonumber(ARGV[2]))
local best, best_share = nil, nil
for i, name in ipairs(KEYS) do
  local used = tonumber(redis.call('HGET', ARGV[1], name) or '0')
  local capacity = tonumber(ARGV[i + 2])
  local share = nil
  if capacity == 0 then share = used / uncapped
  elseif used < capacity then share = used / capacity end
  if share ~= nil and (best_share == nil or share < best_share) then
    best, best_share = i, share
  end
end
if best == nil then return -1 end
redis.call('HINCRBY', ARGV[1], KEYS[best], 1)
return best
"""

# Uncount one session; a count that reaches zero is deleted, so the counts of replicas that
# are gone (each counts its own local sessions) do not pile up.
_RELEASE_LOAD = """
local left = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if left <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
return left
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
        self._release_load = self._redis.register_script(_RELEASE_LOAD)

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

    async def claim_endpoint(
        self, endpoints: Sequence[Endpoint], replica: str, *, uncapped: int
    ) -> Endpoint | None:
        if not endpoints:
            return None
        chosen = await self._claim(
            keys=[load_key(e, replica) for e in endpoints],
            args=[self._key("loads"), uncapped, *(str(e.capacity or 0) for e in endpoints)],
        )
        return None if int(chosen) < 0 else endpoints[int(chosen) - 1]

    async def release_endpoint(self, endpoint: Endpoint, replica: str) -> None:
        await self._release_load(keys=[self._key("loads")], args=[load_key(endpoint, replica)])

    async def endpoint_load(self, endpoint: Endpoint, replica: str) -> int:
        used = await self._redis.hget(self._key("loads"), load_key(endpoint, replica))
        return int(used or 0)

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

    async def replica_urls(self) -> set[str]:
        prefix = self._key("replica", "")
        keys = [key async for key in self._redis.scan_iter(match=prefix + "*", count=100)]
        return {replica_url(str(key)[len(prefix) :]) for key in keys}

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
