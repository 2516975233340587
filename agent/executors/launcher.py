"""How a session's code processes are started: directly, or inside the session's sandbox.

Executors (warm workers, bash runs) ask a ``Launcher`` for a ``Child``: a process in a process
group of its own, whose stdout and stderr the server reads, and which may be handed extra pipes
(their descriptor numbers go in environment variables the child reads). The ``Layout`` says where
things are as the child sees them: its working folder, its tools, its DevTools URL. Both differ
between a direct child (host paths) and a sandboxed one (``/work``, ``/opt/agent``, ...).

``DirectLauncher`` starts children as the server's own user (trusted single-user mode,
``AGENT_SANDBOX=none``); ``agent.executors.sandbox.BoxLauncher`` starts them in bubblewrap.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Child", "DirectChild", "DirectLauncher", "Launcher", "Layout"]


@dataclass(frozen=True)
class Layout:
    """Where a session's children find their things, as paths inside their own view."""

    workdir: str
    """The working folder, the only one the code may write (besides a private /tmp)."""
    bin_dir: str
    """Holds the ``agent`` and ``agent-browser`` commands; first on PATH."""
    python: str
    """The Python interpreter that runs the python worker and ``agent browser``."""
    python_worker: str
    node_dir: str
    """The node worker's folder (``worker.js`` and its ``node_modules``)."""
    browser_cli: str
    """The ``agent browser`` client script that parses (``browser_cli.py``)."""
    browser_client: str
    """The ``agent browser`` client bash code runs (``browser_client.py``), beside it."""
    cdp_url: str
    """The session's DevTools as Playwright connects to it (``ws+unix://``)."""
    rpc_socket: str
    """The socket of the ``agent browser`` server."""
    rpc_port: int = 0
    """A port of the code's own loopback that reaches ``rpc_socket`` (0: none)."""


class Child(Protocol):
    """A started code process."""

    stdout: asyncio.StreamReader
    stderr: asyncio.StreamReader

    @property
    def returncode(self) -> int | None:
        """Its exit status once it has exited (negative: killed by that signal), else None."""
        ...

    @property
    def pid(self) -> int | None:
        """Its process id on this machine, when it can be known."""
        ...

    async def kill(self) -> None:
        """SIGKILL its whole process group (what the code started included)."""
        ...


class Launcher(Protocol):
    layout: Layout

    async def spawn(
        self, argv: Sequence[str], *, env: dict[str, str], extra_fds: Sequence[tuple[str, int]] = ()
    ) -> Child:
        """Start ``argv`` in the layout's working folder; ``extra_fds`` are ``(variable, fd)``
        pairs: each fd is passed on, and its number in the child is put in that variable. The
        caller closes its own copies of them afterwards."""
        ...

    async def close(self) -> None: ...


class DirectChild:
    """A child started by this process, as the server's own user."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process
        assert process.stdout is not None and process.stderr is not None
        self.stdout = process.stdout
        self.stderr = process.stderr

    @property
    def returncode(self) -> int | None:
        return self._process.returncode

    @property
    def pid(self) -> int | None:
        return self._process.pid

    async def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, signal.SIGKILL)


class DirectLauncher:
    """Children as plain subprocesses of the server (no sandbox)."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout

    async def spawn(
        self, argv: Sequence[str], *, env: dict[str, str], extra_fds: Sequence[tuple[str, int]] = ()
    ) -> Child:
        env = dict(env)
        for name, fd in extra_fds:
            env[name] = str(fd)
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            pass_fds=tuple(fd for _, fd in extra_fds),
            env=env,
            cwd=self.layout.workdir,
            start_new_session=True,  # its own process group: one kill ends all it started
        )
        return DirectChild(process)

    async def close(self) -> None:
        return None
