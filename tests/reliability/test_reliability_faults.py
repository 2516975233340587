"""Faults: a browser or an executor killed mid-call, a page that never loads. Each ends in a
clear error or a recovery within its timeout, and the rest of the server is untouched."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.executors import executors_for
from agent.messages import Message
from agent.models import ScriptStep, tool_call
from agent.server import ServerSettings
from tests.harness import RunningServer, assert_error, wait_until


@pytest.fixture(scope="module")
def served(profiles_dir: Path) -> Iterator[RunningServer]:
    with RunningServer(
        ServerSettings(
            profiles_dir=profiles_dir,
            max_sessions=5,
            warm_browsers=0,
            reap_interval=0.5,
            default_scrape_timeout=3,
        )
    ) as server:
        yield server


@pytest.fixture(scope="module")
def bystander(served: RunningServer, site: str) -> str:
    """A session that must keep working whatever happens to the others."""
    return served.scrape_id(f"{site}/page")


def _in_background(call: Callable[[], httpx.Response]) -> Future[httpx.Response]:
    pool = ThreadPoolExecutor(max_workers=1)
    future = pool.submit(call)
    pool.shutdown(wait=False)
    return future


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _assert_bystander_works(served: RunningServer, bystander: str) -> None:
    response = served.interact(bystander, code="await page.title()", language="python")
    assert response.status_code == 200, response.text
    assert response.json()["result"] == "Reliability page"


def test_browser_killed_during_a_code_call_is_410_at_once(
    served: RunningServer, site: str, bystander: str
) -> None:
    victim = served.scrape_id(f"{site}/page")
    warm = served.interact(victim, code="1 + 1", language="python")  # the worker is started
    assert warm.status_code == 200, warm.text
    pgid = served.browser_pid(victim)
    started = time.monotonic()
    call = _in_background(
        lambda: served.interact(
            victim, code="await page.wait_for_timeout(20000)", language="python", timeout=60
        )
    )
    time.sleep(1.5)  # the code is waiting inside the page
    served.kill_browser(victim)
    response = call.result(timeout=60)
    elapsed = time.monotonic() - started
    body = assert_error(response, 410)
    assert body["code"] == "SESSION_LOST" and "died while the code ran" in body["error"]
    assert elapsed < 15, f"the call waited {elapsed:.1f} s for code the crash had ended"
    assert_error(served.interact(victim, code="1", language="python"), 404)
    wait_until(lambda: not _group_alive(pgid), timeout_s=30, interval_s=0.05)
    _assert_bystander_works(served, bystander)


def test_browser_killed_while_the_model_thinks_is_410(
    served: RunningServer, site: str, bystander: str
) -> None:
    victim = served.scrape_id(f"{site}/page")

    async def slow_model(_messages: Sequence[Message]) -> ScriptStep:
        await asyncio.sleep(2)  # the browser is killed meanwhile
        return [tool_call("click", ref="e1")]

    served.turns.add(slow_model)
    call = _in_background(lambda: served.interact(victim, prompt="Click the button."))
    time.sleep(0.8)
    served.kill_browser(victim)
    body = assert_error(call.result(timeout=60), 410)
    assert body["code"] == "SESSION_LOST" and "Scrape the page again" in body["error"]
    assert len(served.turns.queue) == 0
    _assert_bystander_works(served, bystander)


def test_browser_killed_during_a_scrape_is_a_clear_error(
    served: RunningServer, site: str, bystander: str
) -> None:
    before = set(served.registry._sessions)
    started = time.monotonic()
    call = _in_background(lambda: served.scrape(f"{site}/hang", timeout=30_000))
    wait_until(lambda: bool(set(served.registry._sessions) - before), timeout_s=30, interval_s=0.05)
    (new,) = set(served.registry._sessions) - before
    time.sleep(0.5)
    served.kill_browser(new)
    body = assert_error(call.result(timeout=60), (410, 503))
    assert time.monotonic() - started < 25, "the scrape waited for its timeout"
    assert "browser" in body["error"].lower()
    assert set(served.registry._sessions) == before
    _assert_bystander_works(served, bystander)


@pytest.mark.parametrize("language", ["python", "node"])
def test_executor_killed_mid_call_then_the_next_call_works(
    served: RunningServer, bystander: str, language: str
) -> None:
    slow = (
        "await page.wait_for_timeout(20000)"
        if language == "python"
        else "await page.waitForTimeout(20000)"
    )
    warm = served.interact(bystander, code="1", language=language)
    assert warm.status_code == 200, warm.text
    session = served.session(bystander).browser_session

    def worker_pid() -> int:
        worker = executors_for(session).workers[language]
        assert worker.alive and worker.pid is not None
        return int(worker.pid)

    async def pid_on_loop() -> int:
        return worker_pid()

    pid = served.run(pid_on_loop())
    call = _in_background(
        lambda: served.interact(bystander, code=slow, language=language, timeout=60)
    )
    time.sleep(1.5)
    os.killpg(pid, signal.SIGKILL)
    response = call.result(timeout=60)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is False and body["exitCode"] == 128 + signal.SIGKILL
    assert "ended its worker" in body["stderr"] and body["error"]
    # The next call gets a fresh worker, on the same page, with its state.
    again = served.interact(bystander, code="await page.title()", language=language)
    assert again.status_code == 200, again.text
    assert again.json()["result"] == "Reliability page"
    assert served.run(pid_on_loop()) != pid


def test_executor_killed_between_calls_is_replaced(served: RunningServer, bystander: str) -> None:
    assert served.interact(bystander, code="1", language="python").status_code == 200
    session = served.session(bystander).browser_session

    async def pid_on_loop() -> int:
        return int(executors_for(session).workers["python"].pid or 0)

    os.killpg(served.run(pid_on_loop()), signal.SIGKILL)
    time.sleep(0.3)
    response = served.interact(bystander, code="await page.title()", language="python")
    assert response.status_code == 200, response.text
    assert response.json()["result"] == "Reliability page"


@pytest.mark.parametrize(
    ("path", "timeout_ms"),
    [("/hang", 1500), ("/hang-subresource", 1500), ("/hang", None), ("/busy", 3000)],
    ids=[
        "document-never-answers",
        "image-never-answers",
        "server-default-timeout",
        "page-spins-after-load",
    ],
)
def test_a_page_that_hangs_is_408_within_the_timeout(
    served: RunningServer, site: str, bystander: str, path: str, timeout_ms: int | None
) -> None:
    before = len(served.registry)
    options: dict[str, Any] = {"timeout": timeout_ms} if timeout_ms else {}
    if path == "/busy":  # the screenshot is the step that cannot finish
        options["formats"] = ["markdown", {"type": "screenshot", "fullPage": True}]
    limit_s = (timeout_ms or served.settings.default_scrape_timeout * 1000) / 1000
    started = time.monotonic()
    body = assert_error(served.scrape(f"{site}{path}", **options), 408)
    elapsed = time.monotonic() - started
    assert body["code"] == "SCRAPE_TIMEOUT" and f"within {limit_s:g} s" in body["error"]
    # Starting the browser is not part of the page's timeout; on a loaded machine it can take a
    # few seconds, so the bound is the timeout plus a generous start-up allowance.
    assert elapsed < limit_s + 15, f"answered after {elapsed:.1f} s"
    assert len(served.registry) == before, "the timed-out session was closed"
    _assert_bystander_works(served, bystander)


def test_code_that_loads_a_hanging_page_is_killed_at_its_timeout(
    served: RunningServer, site: str, bystander: str
) -> None:
    started = time.monotonic()
    response = served.interact(
        bystander,
        code=f"await page.goto('{site}/hang', timeout=0)",
        language="python",
        timeout=2,
    )
    assert time.monotonic() - started < 15
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["killed"] is True and body["success"] is False
    assert "did not finish within 2 s" in body["error"]
    back = served.interact(
        bystander, code=f"await page.goto('{site}/page')\nawait page.title()", language="python"
    )
    assert back.status_code == 200 and back.json()["result"] == "Reliability page", back.text


def test_many_concurrent_calls_on_one_session_are_serialised(
    served: RunningServer, bystander: str
) -> None:
    """Calls racing on one session queue up; none fails and none sees another half-done."""
    code = (
        "n = await page.evaluate('window.counter = (window.counter || 0) + 1')\n"
        "await page.wait_for_timeout(50)\n"
        "[n, await page.evaluate('window.counter')]"
    )
    barrier = threading.Barrier(6)

    def one() -> httpx.Response:
        barrier.wait()
        return served.interact(bystander, code=code, language="python")

    with ThreadPoolExecutor(max_workers=6) as pool:
        results: list[Any] = [r.json() for r in pool.map(lambda _: one(), range(6))]
    pairs = sorted(tuple(int(x) for x in r["result"].strip("[]").split(",")) for r in results)
    assert all(r["success"] for r in results)
    assert all(first == second for first, second in pairs), pairs  # no interleaving
    assert len({first for first, _ in pairs}) == 6
