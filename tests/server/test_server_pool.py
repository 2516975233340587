"""The browser pool on real Chromium launches: a bounded wait that answers 429 with Retry-After
and keeps the browser for the retry, first come first served, and spares that start one at a
time and only while no scrape is being served, while launches for waiting scrapes run in
parallel."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from pathlib import Path

import pytest

from agent.browser.session import BrowserSession
from agent.errors import RequestError
from agent.server import ServerSettings
from agent.service.pool import BrowserPool
from tests.harness import RunningServer, assert_error, quick_agent_settings, serve_http

PAGES = Path(__file__).parent.parent / "pages"


class Launches:
    """Starts real browsers, each once ``gate`` is open, and counts how many start at once."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.gate.set()
        self.running = 0
        self.most_at_once = 0
        self.started: list[BrowserSession] = []

    async def __call__(self) -> BrowserSession:
        await self.gate.wait()
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            browser = await BrowserSession.start()
        finally:
            self.running -= 1
        self.started.append(browser)
        return browser

    async def close_all(self) -> None:
        for browser in self.started:
            await browser.close()


async def test_a_wait_past_the_limit_is_429_and_the_retry_gets_that_browser() -> None:
    launches = Launches()
    launches.gate.clear()  # the launch cannot finish within the wait
    pool = BrowserPool(launches, 0, concurrency=2, wait_s=0.5)
    try:
        with pytest.raises(RequestError) as refused:
            await pool.take()
        assert refused.value.code == "TOO_MANY_SESSIONS"
        assert refused.value.retry_after_s is not None and refused.value.retry_after_s >= 1
        assert "Retry after" in refused.value.message
        launches.gate.set()
        for _ in range(600):  # the launch it set off goes on, into the reserve
            if pool.ready:
                break
            await asyncio.sleep(0.1)
        assert pool.ready == 1
        retried = await pool.take(wait_s=0.1)
        assert retried is launches.started[0] and retried.alive
    finally:
        await pool.close()
        await launches.close_all()


async def test_waiting_scrapes_are_served_in_the_order_they_came() -> None:
    launches = Launches()
    launches.gate.clear()
    pool = BrowserPool(launches, 0, concurrency=1, wait_s=60)
    try:
        first = asyncio.ensure_future(pool.take())
        await asyncio.sleep(0.05)
        second = asyncio.ensure_future(pool.take())
        await asyncio.sleep(0.05)
        launches.gate.set()
        done, _ = await asyncio.wait({first, second}, return_when=asyncio.FIRST_COMPLETED)
        assert done == {first}, "the later caller was served first"
        assert first.result() is launches.started[0]
        assert (await second) is launches.started[1]
    finally:
        await pool.close()
        await launches.close_all()


async def test_spares_start_one_at_a_time_and_waiting_scrapes_in_parallel() -> None:
    spares = Launches()
    pool = BrowserPool(spares, 3, concurrency=3, wait_s=60)
    try:
        pool.refill()
        for _ in range(600):
            if pool.ready == 3:
                break
            await asyncio.sleep(0.1)
        assert pool.ready == 3
        assert spares.most_at_once == 1
    finally:
        await pool.close()
        await spares.close_all()
    wanted = Launches()
    wanted.gate.clear()
    pool = BrowserPool(wanted, 0, concurrency=3, wait_s=60)
    try:
        takers = [asyncio.ensure_future(pool.take()) for _ in range(3)]
        await asyncio.sleep(0.05)
        wanted.gate.set()
        await asyncio.gather(*takers)
        assert wanted.most_at_once == 3
    finally:
        await pool.close()
        await wanted.close_all()


async def test_spares_wait_while_a_scrape_is_served_but_a_waiting_scrape_does_not() -> None:
    launches = Launches()
    pool = BrowserPool(launches, 1, concurrency=2, wait_s=60)
    try:
        with pool.serving():
            pool.refill()
            await asyncio.sleep(1.0)
            assert launches.started == [] and launches.running == 0, "a spare started"
            # A scrape that needs a browser now is not held back by the rule for spares.
            taken = await asyncio.wait_for(pool.take(), 30)
            assert taken.alive
        for _ in range(600):  # served: the reserve fills
            if pool.ready == 1:
                break
            await asyncio.sleep(0.1)
        assert pool.ready == 1
    finally:
        await pool.close()
        await launches.close_all()


def test_over_http_a_scrape_past_its_wait_is_429_with_retry_after_and_its_retry_succeeds(
    tmp_path: Path,
) -> None:
    settings = ServerSettings(
        profiles_dir=tmp_path, warm_browsers=1, launch_concurrency=1, queue_timeout=0.2
    )
    with (
        serve_http(PAGES) as site,
        RunningServer(
            settings, agent_settings=quick_agent_settings(), count_launches=False
        ) as server,
    ):
        deadline = time.monotonic() + 60
        while server.registry.browsers_ready < 1:  # the one spare, started
            assert time.monotonic() < deadline, "the spare browser did not start"
            time.sleep(0.1)
        with concurrent.futures.ThreadPoolExecutor(2) as threads:
            replies = list(threads.map(lambda _: server.scrape(f"{site}/table.html"), range(2)))
        served = [reply for reply in replies if reply.status_code == 200]
        refused = [reply for reply in replies if reply.status_code != 200]
        assert len(served) == 1 and len(refused) == 1, [r.text[:200] for r in replies]
        assert_error(refused[0], 429, "Retry after")
        retry_after = int(refused[0].headers["Retry-After"])
        assert retry_after >= 1
        time.sleep(retry_after)
        retried = server.scrape(f"{site}/table.html")
        assert retried.status_code == 200, retried.text
