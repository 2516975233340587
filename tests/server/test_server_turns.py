"""Scrapes taking turns at the CPU (``agent.service.turns``): first come first served, a few at
a time, a turn given up after ``hold_s``, and a bounded wait that ends in 429 with Retry-After."""

from __future__ import annotations

import asyncio

import pytest

from agent.errors import RequestError
from agent.service.turns import ScrapeTurns


async def _worker(turns: ScrapeTurns, name: int, log: list[str], work_s: float) -> None:
    async with turns.turn():
        log.append(f"start {name}")
        await asyncio.sleep(work_s)
        log.append(f"end {name}")


async def test_turns_go_in_arrival_order_and_never_more_than_the_limit_at_once() -> None:
    turns = ScrapeTurns(2, hold_s=10, wait_s=10)
    log: list[str] = []
    running = peak = 0

    async def counted(name: int) -> None:
        nonlocal running, peak
        async with turns.turn():
            running += 1
            peak = max(peak, running)
            log.append(f"start {name}")
            await asyncio.sleep(0.02)
            running -= 1

    tasks = []
    for name in range(8):
        tasks.append(asyncio.create_task(counted(name)))
        await asyncio.sleep(0)  # they arrive in this order
    await asyncio.gather(*tasks)
    assert peak == 2
    assert log == [f"start {name}" for name in range(8)]


async def test_a_turn_held_past_hold_s_lets_the_next_one_in() -> None:
    turns = ScrapeTurns(1, hold_s=0.1, wait_s=10)
    log: list[str] = []
    slow = asyncio.create_task(_worker(turns, 0, log, work_s=1.0))
    await asyncio.sleep(0)
    quick = asyncio.create_task(_worker(turns, 1, log, work_s=0.0))
    await asyncio.wait_for(quick, 0.5)  # well before the slow one ends
    assert log == ["start 0", "start 1", "end 1"]
    await slow
    assert turns.waiting == 0


async def test_a_wait_past_wait_s_is_a_429_with_retry_after_and_loses_its_place() -> None:
    turns = ScrapeTurns(1, hold_s=10, wait_s=0.1)
    log: list[str] = []
    busy = asyncio.create_task(_worker(turns, 0, log, work_s=0.5))
    await asyncio.sleep(0)
    with pytest.raises(RequestError) as refused:
        async with turns.turn():
            log.append("should not run")
    assert refused.value.code == "TOO_MANY_SESSIONS"
    assert refused.value.retry_after_s is not None and refused.value.retry_after_s >= 1
    assert turns.waiting == 0
    await busy
    await _worker(turns, 2, log, work_s=0)  # the turns still work
    assert log == ["start 0", "end 0", "start 2", "end 2"]


async def test_a_waiter_that_gives_up_leaves_the_line() -> None:
    turns = ScrapeTurns(1, hold_s=10, wait_s=10)
    log: list[str] = []
    first = asyncio.create_task(_worker(turns, 0, log, work_s=0.05))
    await asyncio.sleep(0)
    gone = asyncio.create_task(_worker(turns, 1, log, work_s=0))
    await asyncio.sleep(0)
    third = asyncio.create_task(_worker(turns, 2, log, work_s=0))
    await asyncio.sleep(0.01)
    gone.cancel()
    await asyncio.wait_for(asyncio.gather(first, third), 1)
    assert log == ["start 0", "end 0", "start 2", "end 2"]


async def test_no_limit_lets_everyone_in_at_once() -> None:
    turns = ScrapeTurns(0)
    log: list[str] = []
    await asyncio.gather(*(_worker(turns, name, log, work_s=0.01) for name in range(5)))
    assert log[:5] == [f"start {name}" for name in range(5)]


async def test_a_turn_is_kept_while_its_browser_starts_and_its_clock_runs_again_after() -> None:
    turns = ScrapeTurns(1, hold_s=0.1, wait_s=10)
    log: list[str] = []

    async def starting_slowly() -> None:
        async with turns.turn() as turn:
            with turn.starting():
                await asyncio.sleep(0.3)  # a start longer than hold_s keeps the turn
            log.append("started 0")
            await asyncio.sleep(1.0)  # then the clock runs: past hold_s the next one comes in

    slow = asyncio.create_task(starting_slowly())
    await asyncio.sleep(0)
    quick = asyncio.create_task(_worker(turns, 1, log, work_s=0.0))
    await asyncio.wait_for(quick, 0.8)  # at 0.3 + 0.1 s, well before the slow one ends
    assert log == ["started 0", "start 1", "end 1"]
    await slow
    assert turns.waiting == 0 and turns.active == 0
