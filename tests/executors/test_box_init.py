"""The box's first process reports a child's start before the child may run its code.

Code such as ``kill -9 -1`` ends every process it may signal, ``box_init`` among them. If that
could happen before ``box_init`` reported the start, the server would answer "the code did not
run" for code that ran (a full run under load saw it). These tests run ``box_init`` as the
sandbox runs it, without bubblewrap around it, on a control socket the test holds.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from agent.executors import box_init

_SCRIPT = Path(box_init.__file__)


def _messages(control: socket.socket, timeout: float = 10.0) -> list[dict[str, object]]:
    """Every message ``box_init`` sends until it goes away."""
    control.settimeout(timeout)
    messages = []
    while data := control.recv(1 << 16):
        messages.append(json.loads(data))
    return messages


def _start_box_init() -> tuple[subprocess.Popen[bytes], socket.socket]:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    process = subprocess.Popen(
        [sys.executable, "-I", "-S", str(_SCRIPT), str(theirs.fileno())],
        pass_fds=(theirs.fileno(),),
        env={"PATH": os.environ["PATH"]},
    )
    theirs.close()
    ours.settimeout(10)
    assert json.loads(ours.recv(1 << 16)) == {"op": "ready"}
    return process, ours


def _spawn(control: socket.socket, argv: list[str], child_id: int = 1) -> None:
    stdio = [os.open(os.devnull, os.O_RDWR) for _ in range(3)]
    message = {"op": "spawn", "id": child_id, "argv": argv, "env": {"PATH": os.environ["PATH"]}}
    socket.send_fds(control, [json.dumps(message).encode()], stdio)
    for fd in stdio:
        os.close(fd)


def test_code_that_kills_its_supervisor_at_once_was_reported_started_first() -> None:
    """Twenty children whose first act is to SIGKILL ``box_init``: each start is on record."""
    for attempt in range(20):
        process, control = _start_box_init()
        try:
            _spawn(control, ["/bin/sh", "-c", "kill -9 $PPID"])
            said = _messages(control)
        finally:
            control.close()
            process.wait(10)
        assert process.returncode == -signal.SIGKILL, (attempt, said)
        assert [m["op"] for m in said] == ["started"], (attempt, said)


def test_a_start_the_supervisor_never_acknowledged_does_not_run(tmp_path: Path) -> None:
    """A child whose gate closes unopened (its supervisor died first) exits without its code."""
    ran = tmp_path / "ran"
    for opened in (False, True):
        gate_read, gate_write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(gate_write)
            stdio = os.open(os.devnull, os.O_RDWR)
            box_init._exec_behind_gate(
                gate_read, "/bin/sh", ["sh", "-c", f"echo {opened} >> {ran}"], {},
                "/", (stdio, stdio, stdio), [], 0,
            )  # fmt: skip
        os.close(gate_read)
        if opened:
            os.write(gate_write, b"go")
        os.close(gate_write)
        _pid, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == (0 if opened else 127)
    assert ran.read_text() == "True\n"


def test_a_missing_program_is_reported_failed_and_nothing_starts() -> None:
    process, control = _start_box_init()
    try:
        _spawn(control, ["no-such-program-here"])
        control.settimeout(10)
        said = json.loads(control.recv(1 << 16))
    finally:
        control.close()
        process.wait(10)
    assert said["op"] == "failed" and "no-such-program-here" in str(said["error"]), said


def test_the_child_gets_no_descriptor_but_its_pipes(tmp_path: Path) -> None:
    """The control socket above all: code that could write to it could forge reports."""
    process, control = _start_box_init()
    listing = tmp_path / "fds"
    try:
        _spawn(control, ["/bin/sh", "-c", f"ls /proc/self/fd > {listing}"])
        control.settimeout(10)
        said = [json.loads(control.recv(1 << 16)) for _ in range(2)]
    finally:
        control.close()
        process.wait(10)
    assert [m["op"] for m in said] == ["started", "exited"], said
    # ls's own descriptors: 0-2 and the one it opened to list /proc/self/fd.
    assert sorted(int(fd) for fd in listing.read_text().split()) == [0, 1, 2, 3]
