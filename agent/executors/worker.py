"""A warm worker: one long-lived python or node child, already attached to a session's browser.

The child gets two extra pipes besides its stdio: requests come in on one (a JSON line per call:
``{"code", "target_id", "sentinel"}``) and answers go out on the other (``{"exit_code",
"result", "result_truncated"}``), so that stdin, stdout and stderr stay the user code's own. The
child is started in its own process group, so a kill at the timeout takes every process the code
started with it. A killed or crashed worker is replaced by a fresh one on the next call.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from typing import Any

from agent.errors import ExecutorStartError
from agent.executors.capture import StreamCapture
from agent.executors.launcher import Child, Launcher
from agent.executors.result import KILLED_EXIT_CODE, MAX_OUTPUT_BYTES, CodeResult

__all__ = ["WarmWorker", "wait_exit"]

# Generous: python must import Playwright and start its driver, node must load playwright-core,
# and both then attach over CDP, on a machine that may be busy.
START_TIMEOUT_S = 60.0
# How long the sentinels may trail the answer (they are written before it, on other pipes).
_SENTINEL_WAIT_S = 5.0
_ANSWER_LIMIT = 4 * MAX_OUTPUT_BYTES + 65536  # result capped at 1 MiB, JSON-escaped


class WarmWorker:
    """One child process that runs calls one after another (the caller serialises them)."""

    def __init__(self, launcher: Launcher, argv: list[str], *, env: dict[str, str]) -> None:
        self.launcher = launcher
        self.argv = argv
        self.env = env
        self.process: Child | None = None
        self._stdout: StreamCapture | None = None
        self._stderr: StreamCapture | None = None
        self._answers: asyncio.StreamReader | None = None
        self._requests: asyncio.WriteTransport | None = None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    @property
    def pid(self) -> int | None:
        """The worker's process id on this machine, when it can be known."""
        return self.process.pid if self.process is not None else None

    async def start(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Spawn the child and wait until it says it is attached to the browser."""
        loop = asyncio.get_running_loop()
        request_read, request_write = os.pipe()
        answer_read, answer_write = os.pipe()
        env = dict(self.env)
        env["AGENT_RESULT_LIMIT"] = str(MAX_OUTPUT_BYTES)
        try:
            self.process = await self.launcher.spawn(
                self.argv,
                env=env,
                extra_fds=(("AGENT_REQUEST_FD", request_read), ("AGENT_RESPONSE_FD", answer_write)),
            )
        except BaseException:
            os.close(request_write)
            os.close(answer_read)
            raise
        finally:
            os.close(request_read)
            os.close(answer_write)
        self._answers = asyncio.StreamReader(limit=_ANSWER_LIMIT)
        await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(self._answers),  # type: ignore[arg-type]
            os.fdopen(answer_read, "rb", buffering=0),
        )
        transport, _ = await loop.connect_write_pipe(
            asyncio.Protocol, os.fdopen(request_write, "wb", buffering=0)
        )
        assert isinstance(transport, asyncio.WriteTransport)
        self._requests = transport
        self._stdout = StreamCapture(self.process.stdout, MAX_OUTPUT_BYTES)
        self._stderr = StreamCapture(self.process.stderr, MAX_OUTPUT_BYTES)
        self._stderr.begin()  # keep start-up errors to explain a failed start
        try:
            line = await asyncio.wait_for(self._answers.readline(), timeout_s)
        except (TimeoutError, ValueError):
            line = b""
        try:
            ready: dict[str, Any] = json.loads(line) if line.strip() else {}
        except ValueError:
            ready = {"error": f"it said {line[:200]!r} instead of being ready"}
        if not ready.get("ready"):
            await self._terminate()
            await self._stderr.wait_closed(1.0)
            detail = ready.get("error") or self._stderr.end().strip()[-2000:]
            await self.kill()
            raise ExecutorStartError(detail or f"no answer within {timeout_s:.0f} s")
        self._stderr.end()

    async def run(self, code: str, target_id: str, timeout_s: float) -> CodeResult:
        """Run one piece of code on the page with ``target_id``; kill the worker at the timeout."""
        assert self.process and self._stdout and self._stderr and self._answers and self._requests
        sentinel = "\x1e" + secrets.token_hex(12) + "\x1e"
        self._stdout.begin(sentinel.encode())
        self._stderr.begin(sentinel.encode())
        request = {"code": code, "target_id": target_id, "sentinel": sentinel}
        self._requests.write(json.dumps(request).encode() + b"\n")
        killed = False
        answer: dict[str, Any] = {}
        try:
            line = await asyncio.wait_for(self._answers.readline(), timeout_s)
        except TimeoutError:
            killed, line = True, b""
            await self._terminate()
        except ValueError:  # an answer past the limit: cannot happen unless the code wrote it
            line = b""
            await self._terminate()
        if line:
            answer = json.loads(line)
            await self._stdout.wait_for_sentinel(_SENTINEL_WAIT_S)
            await self._stderr.wait_for_sentinel(_SENTINEL_WAIT_S)
            exit_code = int(answer.get("exit_code", 1))
        else:
            # Killed, or the code ended the worker itself (os._exit, process.exit): keep what it
            # printed, and report how the process ended.
            returncode = await wait_exit(self.process, 5.0)
            await self._stdout.wait_closed(1.0)
            await self._stderr.wait_closed(1.0)
            exit_code = KILLED_EXIT_CODE if killed else _status(returncode)
        stdout, stderr = self._stdout.end(), self._stderr.end()
        truncated = self._stdout.truncated or self._stderr.truncated
        if not line:
            await self.kill()
            how = f"ran past its timeout of {timeout_s:g} s" if killed else "ended its worker"
            stderr += f"\n[{'killed: ' if killed else ''}the code {how}]"
        return CodeResult(
            stdout=stdout,
            stderr=stderr.lstrip("\n"),
            result=str(answer.get("result", "")),
            exit_code=exit_code,
            killed=killed,
            truncated=truncated or bool(answer.get("result_truncated")),
            error=str(answer["error"])[:300] if answer.get("error") else None,
        )

    async def _terminate(self) -> None:
        """SIGKILL the worker's process group (what the code started included) and reap it."""
        process = self.process
        if process is None:
            return
        await process.kill()
        await wait_exit(process, 5.0)

    async def kill(self) -> None:
        """Kill the worker's whole process group and release its pipes."""
        await self._terminate()
        if self._requests is not None:
            self._requests.close()
        for capture in (self._stdout, self._stderr):
            if capture is not None:
                await capture.wait_closed(0.5)
                await capture.aclose()


def _status(returncode: int) -> int:
    """A shell-style exit status: a negative returncode (a signal) becomes 128 + the signal."""
    return 128 - returncode if returncode < 0 else returncode


async def wait_exit(process: Child, timeout_s: float) -> int:
    """Wait for the process itself to exit, not for its pipes to close.

    ``Process.wait()`` also waits for stdout and stderr to close, which a background process the
    code started may hold open for ever; the return code is set as soon as the process is reaped.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    delay = 0.001
    while process.returncode is None and loop.time() < deadline:
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.02)
    return process.returncode if process.returncode is not None else -9
