"""Profiles under failure: a save cut short by a kill leaves the previous profile intact, two
writers racing get one 200 and one 409, and readers always see a whole profile."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.server import ProfileStore, ServerSettings
from agent.service.profiles import STALE_TEMP_AGE_S, _write_atomically
from tests.harness import RunningServer, assert_error

OLD = {"cookies": [{"name": "sid", "value": "old"}], "origins": []}
NEW = {"cookies": [{"name": "sid", "value": "new" * 50_000}], "origins": []}

# Saves NEW over a profile, dying (SIGKILL, as an OOM kill or a power cut would end it) at the
# named point of the atomic write.
_CRASHING_SAVE = """
import json, os, signal, sys
from pathlib import Path
from agent.service import profiles

path, point, text = Path(sys.argv[1]), sys.argv[2], sys.stdin.read()

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

if point == "mid-write":
    real_fdopen = os.fdopen
    class HalfWriter:
        def __init__(self, handle):
            self.handle = handle
        def __enter__(self):
            return self
        def __exit__(self, *exc):
            return False
        def write(self, data):
            self.handle.write(data[: len(data) // 2])
            self.handle.flush()
            die()
        def __getattr__(self, name):
            return getattr(self.handle, name)
    profiles.os.fdopen = lambda *a, **k: HalfWriter(real_fdopen(*a, **k))
elif point == "before-fsync":
    profiles.os.fsync = die
elif point == "before-rename":
    profiles.os.replace = die
profiles._write_atomically(path, json.dumps(json.loads(text)))
"""


@pytest.mark.parametrize("point", ["mid-write", "before-fsync", "before-rename"])
def test_a_save_killed_midway_leaves_the_previous_profile_intact(
    tmp_path: Path, point: str
) -> None:
    store = ProfileStore(tmp_path)
    path = store.path("bank")
    _write_atomically(path, json.dumps(OLD))
    before = path.read_bytes()

    crashed = subprocess.run(
        [sys.executable, "-c", _CRASHING_SAVE, str(path), point],
        input=json.dumps(NEW).encode(),
        capture_output=True,
        timeout=60,
        check=False,
    )

    assert crashed.returncode == -signal.SIGKILL, crashed.stderr.decode()[-2000:]
    assert path.read_bytes() == before, "the profile itself was never touched"
    assert asyncio.run(store.load("bank")) == OLD
    leftovers = list(tmp_path.glob(".bank.*.tmp"))
    assert len(leftovers) == 1, "the crash left its temporary file, which loading ignores"
    # The next save replaces the profile as usual; a leftover young enough to be another
    # process's save in flight is kept, an old one is removed.
    _write_atomically(path, json.dumps(NEW))
    assert asyncio.run(store.load("bank")) == NEW
    assert [p.name for p in tmp_path.glob(".bank.*.tmp")] == [leftovers[0].name]
    old = time.time() - STALE_TEMP_AGE_S - 60
    os.utime(leftovers[0], (old, old))
    other_profile_leftover = tmp_path / ".bank.x.abcdefgh.tmp"  # profile "bank.x", kept
    other_profile_leftover.write_text("{")
    os.utime(other_profile_leftover, (old, old))
    _write_atomically(path, json.dumps(OLD))
    assert asyncio.run(store.load("bank")) == OLD
    assert [p.name for p in tmp_path.glob(".bank*.tmp")] == [other_profile_leftover.name]


def test_readers_see_a_whole_profile_while_it_is_rewritten(tmp_path: Path) -> None:
    store = ProfileStore(tmp_path)
    path = store.path("busy")
    versions = [json.dumps(OLD), json.dumps(NEW)]
    _write_atomically(path, versions[0])
    stop = threading.Event()
    seen: list[Any] = []

    def write_forever() -> None:
        count = 0
        while not stop.is_set() and count < 400:
            _write_atomically(path, versions[count % 2])
            count += 1

    writer = threading.Thread(target=write_forever)
    writer.start()
    try:
        for _ in range(300):
            seen.append(asyncio.run(store.load("busy")))
    finally:
        stop.set()
        writer.join(timeout=60)
    assert all(state in (OLD, NEW) for state in seen), "a reader saw a partial profile"
    assert not list(tmp_path.glob("*.tmp"))


@pytest.fixture(scope="module")
def served(profiles_dir: Path) -> Iterator[RunningServer]:
    with RunningServer(
        ServerSettings(profiles_dir=profiles_dir, max_sessions=6, warm_browsers=0)
    ) as server:
        yield server


def _token(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    markdown = str(response.json()["data"]["markdown"])
    return markdown.split("token=", 1)[1].split()[0]


def test_writers_race_one_wins_the_others_get_409_readers_see_the_saved_state(
    served: RunningServer, site: str, profiles_dir: Path
) -> None:
    name = f"race-{uuid.uuid4().hex[:8]}"
    served.stop_session(served.scrape_id(f"{site}/page?set=saved", profile={"name": name}))
    saved = (profiles_dir / f"{name}.json").read_bytes()
    bodies: list[dict[str, Any]] = [
        {"url": f"{site}/page?set=writer{i}", "profile": {"name": name}} for i in range(3)
    ] + [{"url": f"{site}/page", "profile": {"name": name, "saveChanges": False}}]
    barrier = threading.Barrier(len(bodies))

    def send(body: dict[str, Any]) -> httpx.Response:
        barrier.wait()
        return served.post("/v2/scrape", json=body)

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        responses = list(pool.map(send, bodies))
    writers, readers = responses[:3], responses[3:]

    winners = [r for r in writers if r.status_code == 200]
    assert len(winners) == 1, [r.status_code for r in writers]
    for loser in (r for r in writers if r.status_code != 200):
        body = assert_error(loser, 409)
        assert body["code"] == "PROFILE_IN_USE"
    assert [_token(r) for r in readers] == ["saved"], "a reader sees the saved profile"
    assert (profiles_dir / f"{name}.json").read_bytes() == saved, "nothing saved before stop"

    for response in (*winners, *readers):
        served.stop_session(response.json()["data"]["metadata"]["scrapeId"])
    winner_token = _token(winners[0])
    after = served.scrape(f"{site}/page", profile={"name": name, "saveChanges": False})
    assert _token(after) == winner_token, "the winner's changes were saved at its stop"
    served.stop_session(after.json()["data"]["metadata"]["scrapeId"])


def test_a_writer_whose_browser_dies_saves_nothing_and_frees_the_profile(
    served: RunningServer, site: str, profiles_dir: Path
) -> None:
    name = f"crash-{uuid.uuid4().hex[:8]}"
    served.stop_session(served.scrape_id(f"{site}/page?set=v1", profile={"name": name}))
    path = profiles_dir / f"{name}.json"
    saved = path.read_bytes()

    writer = served.scrape_id(f"{site}/page?set=v2", profile={"name": name})
    served.kill_browser(writer)
    stopped = served.stop_session(writer)
    assert stopped.status_code in (200, 404, 410), stopped.text

    assert path.read_bytes() == saved, "the dead browser's state was not written"
    assert not list(profiles_dir.glob(f".{name}.*.tmp"))
    again = served.scrape(f"{site}/page", profile={"name": name})  # the lease was released
    assert _token(again) == "v1"
    served.stop_session(again.json()["data"]["metadata"]["scrapeId"])
