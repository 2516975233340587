"""Which endpoint a new session goes to: the store's least-loaded rule, on this process's store
and on a real ``redis-server`` (whose Lua script must pick exactly as the Python does)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis

from agent.browser.providers import LOCAL, Endpoint
from agent.service.store import MemoryStore, RedisStore, SessionStore

SMALL = Endpoint(kind="cdp", url="http://small:9222", capacity=2)
BIG = Endpoint(kind="cdp", url="http://big:9222", capacity=4)
CDP_8 = Endpoint(kind="cdp", url="http://pool:9222", capacity=8)
REPLICA = "http://10.0.0.1:3002#a1"


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[SessionStore]:
    if request.param == "memory":
        yield MemoryStore()
        return
    redis_url = request.getfixturevalue("redis_url")
    shared = RedisStore(redis_url, prefix="placement-test:")
    try:
        yield shared
    finally:
        await shared.close()
        redis.Redis.from_url(redis_url).delete("placement-test:loads")


async def _place(
    store: SessionStore, endpoints: list[Endpoint], count: int, *, uncapped: int = 10
) -> list[str | None]:
    placed = []
    for _ in range(count):
        endpoint = await store.claim_endpoint(endpoints, REPLICA, uncapped=uncapped)
        placed.append(endpoint.url or endpoint.kind if endpoint else None)
    return placed


async def test_sessions_go_to_the_least_filled_endpoint_not_the_first_with_room(
    store: SessionStore,
) -> None:
    # First-fit would be small, small, big x4; fewest sessions first would be small, big,
    # small, big x3. By share of capacity the big one takes two for each of the small one's.
    placed = await _place(store, [SMALL, BIG], 7)
    s, b = SMALL.url, BIG.url
    assert placed == [s, b, b, s, b, b, None]
    await store.release_endpoint(SMALL, REPLICA)
    assert await _place(store, [SMALL, BIG], 2) == [s, None]


async def test_an_uncapped_endpoint_counts_as_holding_max_sessions(store: SessionStore) -> None:
    # [local, cdp of 8] with AGENT_MAX_SESSIONS=10: shared out 10 to 8, not local, cdp, local x8
    # (an uncapped endpoint used to look near-empty whatever it held).
    placed = await _place(store, [LOCAL, CDP_8], 20, uncapped=10)
    c = CDP_8.url
    assert placed[:10] == ["local", c, "local", c, "local", c, "local", c, "local", "local"]
    assert placed[:18].count(c) == 8 and placed[:18].count("local") == 10
    assert placed[18:] == ["local", "local"]  # the capped one is full; the uncapped never is
    assert await store.endpoint_load(CDP_8, REPLICA) == 8
    assert await store.endpoint_load(LOCAL, REPLICA) == 12


async def test_each_replica_counts_its_own_local_sessions(store: SessionStore) -> None:
    other = "http://10.0.0.2:3002#b2"
    local_2 = Endpoint(kind="local", capacity=2)
    for _ in range(2):
        assert await store.claim_endpoint([local_2], REPLICA, uncapped=10) == local_2
    assert await store.claim_endpoint([local_2], REPLICA, uncapped=10) is None  # its own is full
    assert await store.claim_endpoint([local_2], other, uncapped=10) == local_2  # another machine
    # A remote endpoint is one count for every replica.
    assert await store.claim_endpoint([SMALL], REPLICA, uncapped=10) == SMALL
    assert await store.claim_endpoint([SMALL], other, uncapped=10) == SMALL
    assert await store.claim_endpoint([SMALL], other, uncapped=10) is None
    for _ in range(3):  # releasing more than was claimed never goes below zero
        await store.release_endpoint(local_2, REPLICA)
    assert await store.endpoint_load(local_2, REPLICA) == 0
    assert await store.endpoint_load(local_2, other) == 1
