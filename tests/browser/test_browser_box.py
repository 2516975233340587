"""The browser box's parts, each on the real thing: the address policy, the SOCKS5 checkpoint on a
real socket, the box users shared with other processes, the memory guards on real processes, and
a boxed Chromium closed without leftovers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent import procfs
from agent.browser import box_memory
from agent.browser.addresses import (
    is_loopback_name,
    is_private_address,
    resolves_private,
    treat_as_public_for_tests,
)
from agent.browser.box import BoxOptions, check_box_tools
from agent.browser.box_memory import MemoryGuard, memory_guard
from agent.browser.bwrap import UID_BASE, UID_RANGE, allocate_uid, release_uid
from agent.browser.egress import BLOCKED, UNRESOLVED, EgressCheckpoint
from agent.browser.launch import launch_browser
from agent.config import Settings, default_browser_memory_mb
from agent.errors import ConfigError
from tests.processes import ended_pid

# -- the address policy ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("localhost.", True),
        ("LocalHost", True),
        ("foo.localhost", True),
        ("a.b.localhost.", True),
        ("localhost.example.com", False),
        ("notlocalhost", False),
        ("example.com", False),
    ],
)
def test_names_chromium_sends_to_loopback(host: str, loopback: bool) -> None:
    assert is_loopback_name(host) is loopback


@pytest.mark.parametrize(
    ("address", "private"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("10.0.0.1", True),
        ("172.16.0.1", True),
        ("192.168.1.1", True),
        ("100.64.0.1", True),
        ("169.254.169.254", True),
        ("0.0.0.0", True),
        ("224.0.0.1", True),
        ("240.0.0.1", True),
        ("::1", True),
        ("[::1]", True),
        ("fe80::1%eth0", True),
        ("fd00::1", True),
        ("::ffff:127.0.0.1", True),
        ("::ffff:10.1.1.1", True),
        ("8.8.8.8", False),
        ("2606:4700:4700::1111", False),
        ("::ffff:8.8.8.8", False),
    ],
)
def test_private_addresses(address: str, private: bool) -> None:
    assert is_private_address(address) is private


def test_a_test_may_call_one_loopback_port_public_and_only_meanwhile() -> None:
    with treat_as_public_for_tests("127.0.0.1", 4242):
        assert not is_private_address("127.0.0.1", 4242)
        assert is_private_address("127.0.0.1", 4243)
        assert is_private_address("127.0.0.1")
    assert is_private_address("127.0.0.1", 4242)


async def test_names_are_judged_by_what_they_resolve_to() -> None:
    assert await resolves_private("localhost.")
    assert await resolves_private("ip6-localhost") or not _resolves("ip6-localhost")
    assert not await resolves_private("no-such-host.invalid")  # the browser says it does not exist


def _resolves(name: str) -> bool:
    try:
        socket.getaddrinfo(name, None)
    except OSError:
        return False
    return True


# -- the egress checkpoint ------------------------------------------------------------------------


async def _socks_connect(port: int, host: str, target_port: int, command: int = 1) -> int:
    """Ask the checkpoint at 127.0.0.1:``port`` to connect to ``host`` as Chromium does (a name
    for a name); the SOCKS5 reply code."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"\x05\x01\x00")
        assert await reader.readexactly(2) == b"\x05\x00"
        try:
            packed = socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
            kind = 4 if ":" in host else 1
            address = packed
        except OSError:
            kind, address = 3, bytes([len(host)]) + host.encode()
        writer.write(bytes([5, command, 0, kind]) + address + struct.pack("!H", target_port))
        reply = await reader.readexactly(10)
        if reply[1] == 0:
            writer.write(b"GET / HTTP/1.0\r\n\r\n")
            answer = await reader.read()
            assert b"200" in answer.split(b"\r\n", 1)[0]
        return reply[1]
    finally:
        writer.close()


@pytest.fixture
async def checkpoint() -> tuple[EgressCheckpoint, int]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    point = EgressCheckpoint(listener)
    await point.start()
    yield point, listener.getsockname()[1]
    await point.close()


async def test_the_checkpoint_refuses_loopback_before_and_after_resolution(
    checkpoint: tuple[EgressCheckpoint, int], site: str
) -> None:
    point, port = checkpoint
    started = time.monotonic()
    page_port = int(site.rsplit(":", 1)[1])
    for host in ("localhost.", "foo.localhost", "127.0.0.1", "::1", "::ffff:127.0.0.1"):
        assert await _socks_connect(port, host, page_port) == 2, host
    assert await _socks_connect(port, "no-such-host.invalid", 80) == 4
    refusals = point.refusals(started)
    assert ("localhost.", BLOCKED) in refusals and ("no-such-host.invalid", UNRESOLVED) in refusals
    assert point.refusals(time.monotonic()) == []


async def test_the_checkpoint_connects_to_a_public_address_and_nothing_but_connect(
    checkpoint: tuple[EgressCheckpoint, int], site: str
) -> None:
    _, port = checkpoint
    page_port = int(site.rsplit(":", 1)[1])
    with treat_as_public_for_tests("127.0.0.1", page_port):
        assert await _socks_connect(port, "127.0.0.1", page_port) == 0
        assert await _socks_connect(port, "127.0.0.1", page_port, command=3) == 7  # UDP


# -- box users ------------------------------------------------------------------------------------


def test_box_users_are_never_shared_with_another_process() -> None:
    mine = allocate_uid()
    assert mine is not None
    try:
        # Another process whose search starts at our user (a process starts at 7 x its pid,
        # modulo the range; 143 is 7's inverse modulo 1000) must pass it by.
        pid = (mine - UID_BASE) * 143 % UID_RANGE
        probe = (
            "import os\n"
            f"os.getpid = lambda: {pid}\n"
            "from agent.browser.bwrap import allocate_uid\n"
            "print(allocate_uid())\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
        )
        theirs = int(done.stdout)
        assert theirs != mine and UID_BASE <= theirs < UID_BASE + UID_RANGE, (mine, theirs)
    finally:
        release_uid(mine)
    again = allocate_uid()  # released by the other process's exit, and by ours
    assert again is not None
    release_uid(again)


# -- memory ---------------------------------------------------------------------------------------

# 300 MiB, every page of it touched, then held.
_HOG = (
    "import time; block = bytearray(300 * 1024 * 1024); "
    "block[::4096] = b'x' * len(block[::4096]); time.sleep(30)"
)


def test_the_watchdog_adds_up_a_process_tree() -> None:
    hog = subprocess.Popen(  # a tree: bash, and the hog below it
        ["bash", "-c", f'{sys.executable} -c "{_HOG}"; true'], start_new_session=True
    )
    try:
        small, large = MemoryGuard(128), MemoryGuard(4096)
        small.attach(hog.pid)
        large.attach(hog.pid)
        deadline = time.monotonic() + 20
        while not small.exceeded():
            assert time.monotonic() < deadline, "the watchdog never saw 300 MiB"
            time.sleep(0.2)
        assert not large.exceeded()
    finally:
        os.killpg(hog.pid, signal.SIGKILL)
        hog.wait()


def test_a_cgroup_bounds_the_box_and_says_when_it_killed() -> None:
    guard = memory_guard(128)
    if guard.join_file is None:
        pytest.skip("this machine lets this process make no memory cgroup")
    try:
        hog = subprocess.run(
            ["bash", "-c", f'echo $$ > {guard.join_file} && exec {sys.executable} -c "{_HOG}"'],
            timeout=60,
            check=False,
        )
        assert hog.returncode == -9, "the kernel did not kill the process past the limit"
        assert guard.exceeded()
    finally:
        guard.close()
    assert not Path(guard.join_file).parent.exists()


def test_cgroups_a_killed_server_left_are_removed(monkeypatch: pytest.MonkeyPatch) -> None:
    guard = memory_guard(128)
    if guard.join_file is None:
        pytest.skip("this machine lets this process make no memory cgroup")
    guard.close()
    place = Path(guard.join_file).parent.parent
    dead_pid = ended_pid()
    orphan, ours = place / f"box-{dead_pid}-0rphan", place / f"box-{os.getpid()}-l1ve"
    orphan.mkdir()
    ours.mkdir()
    try:
        monkeypatch.setattr(box_memory, "_places", {})
        assert memory_guard(128).join_file is not None  # finds its place again, and sweeps it
        assert not orphan.exists() and ours.exists()
    finally:
        for folder in (orphan, ours):
            with contextlib.suppress(OSError):
                folder.rmdir()
        for folder in place.glob(f"box-{os.getpid()}-*"):
            with contextlib.suppress(OSError):
                folder.rmdir()


def test_the_default_memory_limit_follows_the_machine() -> None:
    total_mib = int(Path("/proc/meminfo").read_text().split()[1]) // 1024
    assert default_browser_memory_mb() == min(4096, max(1024, total_mib // 8))
    assert Settings(browser_sandbox="none").browser_sandbox is None
    assert BoxOptions.from_settings(Settings(browser_sandbox="none"), egress=True) is None


# -- the box, whole -------------------------------------------------------------------------------


async def test_a_box_closes_to_nothing(site: str) -> None:
    browser = await launch_browser(box=BoxOptions(memory_mb=1024, egress=True))
    box = browser.box
    assert box is not None and box.process is not None
    try:
        with treat_as_public_for_tests("127.0.0.1", int(site.rsplit(":", 1)[1])):
            await browser.page.goto(f"{site}/")
        pids = procfs.tree(box.process.pid)
        assert len(pids) > 3
        join = box.join_file
    finally:
        await browser.close()
    await asyncio.sleep(0)
    assert not [pid for pid in pids if _alive(pid)], "box processes outlived it"
    assert not box.root.exists()
    assert join is None or not Path(join).parent.exists()
    assert box.uid is None


def _alive(pid: int) -> bool:
    stat = procfs.stat(pid)
    return stat is not None and not stat.zombie


def test_a_missing_bwrap_is_a_start_up_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ConfigError, match=r"bubblewrap.*AGENT_BROWSER_SANDBOX=none"):
        check_box_tools()


def test_agent_serve_stops_when_no_box_can_be_made(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path), "AGENT_SANDBOX": "none"}
    started = subprocess.run(
        [sys.executable, "-m", "agent", "serve", "--port", "0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert started.returncode != 0
    assert "bwrap is not installed" in started.stderr and "AGENT_BROWSER_SANDBOX" in started.stderr
