"""What a test starts as a process of its own: ``agent serve`` as a user runs it (its output
piped or in a log file), and the npm packages of a folder of Node.js clients."""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.harness import free_port, wait_until

__all__ = [
    "ServeProcess", "agent_serve", "agent_serve_logged", "answers", "npm_packages", "run_agent",
]  # fmt: skip


def run_agent(
    env: dict[str, str], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``python -m agent ARGS`` to its end, its output captured as text; never raises on exit."""
    return subprocess.run(
        [sys.executable, "-m", "agent", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclasses.dataclass
class ServeProcess:
    """An ``agent serve`` started by :func:`agent_serve`: its process and base URL."""

    process: subprocess.Popen[str]
    url: str

    def output(self) -> str:
        """Everything it printed, once it has exited."""
        return self.process.communicate(timeout=60)[0] if self.process.stdout else ""


@contextmanager
def agent_serve(
    env: dict[str, str],
    *,
    python: str = sys.executable,
    port: int | None = None,
    wait: bool = True,
) -> Iterator[ServeProcess]:
    """``python -m agent serve`` as a user runs it, with this checkout first on ``PYTHONPATH``.

    With ``wait`` the block starts once ``/health`` answers (the test fails with the server's
    output if it exits first); without it, right away (for a server expected to refuse to start).
    The server gets SIGTERM when the block ends.
    """
    port = port or free_port()
    root = str(Path(__file__).resolve().parents[1])
    full_env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))}
    process = subprocess.Popen(
        [python, "-m", "agent", "serve", "--port", str(port), "--log-level", "warning"],
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    served = ServeProcess(process, f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 90
        while wait:
            try:
                httpx.get(f"{served.url}/health", timeout=2)
                break
            except httpx.TransportError:
                if process.poll() is not None:
                    pytest.fail(f"agent serve exited {process.returncode}: {served.output()}")
                assert time.monotonic() < deadline, "agent serve did not answer in 90 s"
                time.sleep(0.2)
        yield served
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@contextmanager
def agent_serve_logged(env: dict[str, str], folder: Path, *args: str) -> Iterator[tuple[str, Path]]:
    """``python -m agent serve ARGS`` on a free port (``AGENT_PORT``), run from ``folder`` with
    this checkout on ``PYTHONPATH`` and its whole output in ``folder/server.log``: yields its URL
    and that log once ``/health`` answers, and stops it with SIGINT (a user's Ctrl-C)."""
    port = free_port()
    log = folder / "server.log"
    root = str(Path(__file__).resolve().parents[1])
    env = {**env, "PYTHONPATH": root, "AGENT_PORT": str(port)}
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "agent", "serve", *args],
            cwd=folder,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: answers(f"{url}/health"), timeout_s=60, interval_s=0.2)
        yield url, log
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def answers(url: str) -> bool:
    """Whether ``GET url`` answers 200 now (a server still starting does not)."""
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def npm_packages(folder: Path, package: str, what: str) -> Path:
    """``folder``, with its npm packages installed (``npm ci``) unless ``package`` is there
    already; the test is skipped without node and npm, or when they cannot be installed."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip(f"node and npm are needed for {what}")
    if not (folder / "node_modules" / package).is_dir():
        installed = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if installed.returncode != 0:
            pytest.skip(f"could not install {what}: {installed.stderr[-500:]}")
    return folder
