"""The per-session server behind ``agent browser``: a unix socket in the session's private folder.

Refs live in the process that owns the session, so the command-line tool a bash script calls is a
client. The declared one (``browser_cli``) sends ``{"token", "command", "args"}`` as one JSON
line and reads back ``{"ok", "output"}`` or ``{"ok": false, "error"}``. The ones bash code runs
(``browser_client``, and the box's ``agent`` shim with bash's ``/dev/tcp``) send the raw
command line instead, which is parsed here with ``browser_cli``'s own parser and answered with
what that client would print (the wire is in ``browser_client``'s docstring): parsing costs the
server a fraction of a millisecond, where importing argparse and json cost each command ~40 ms.
Commands run through ``BrowserCommands`` on the session's page and refs, one at a time.

Access is granted per code run: ``grant()`` issues a random token for the duration of one bash
call (passed in ``AGENT_SESSION_TOKEN``) and revokes it after, cancelling any command still
running for it; a background process the script left, or another session's code, cannot act.

Locking: the server does not take ``session.lock``. The caller of ``run_code`` is the one that
serialises calls on a session (it holds the lock for the whole code run), and the commands a
running script sends act on its behalf; taking the lock here would deadlock against that caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import secrets
import weakref
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.errors import AgentError, one_line
from agent.executors.browser_cli import (
    SOCKET_ENV,
    TOKEN_ENV,
    CommandLineExit,
    outcome,
    parse_command_line,
    printed,
    reads_stdin,
    reply_of,
    resolve_paths,
)
from agent.executors.browser_client import HELP, MAGIC, STDIN
from agent.executors.browser_commands import BrowserCommands

if TYPE_CHECKING:
    from agent.browser.session import BrowserSession

__all__ = ["SOCKET_ENV", "TOKEN_ENV", "BrowserRPC"]

_REQUEST_LIMIT = 8 * 1024 * 1024

log = logging.getLogger(__name__)


class BrowserRPC:
    """Serves ``agent browser`` commands for one session while a code run holds a token."""

    def __init__(self, session: BrowserSession, socket_path: Path, workdir: Path) -> None:
        self._session = weakref.ref(session)
        self.socket_path = socket_path
        self.commands = BrowserCommands(workdir)
        self._tokens: dict[str, set[asyncio.Task[Any]]] = {}
        self._lock = asyncio.Lock()  # one command at a time, in the order they came
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_unix_server(
            self._serve, path=str(self.socket_path), limit=_REQUEST_LIMIT
        )
        os.chmod(self.socket_path, 0o600)

    @contextlib.asynccontextmanager
    async def grant(self) -> AsyncIterator[str]:
        """A token valid until the block ends; commands still running then are cancelled."""
        token = secrets.token_hex(24)
        self._tokens[token] = set()
        try:
            yield token
        finally:
            running = self._tokens.pop(token, set())
            for task in running:
                task.cancel()
            for task in running:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    def _task_set(self, token: object) -> set[asyncio.Task[Any]] | None:
        if not isinstance(token, str):
            return None
        for known, tasks in self._tokens.items():
            if hmac.compare_digest(known.encode(), token.encode()):
                return tasks
        return None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await reader.readline()
            if line == MAGIC:
                await self._serve_command_line(reader, writer)
            else:
                reply = await self._answer(line)
                writer.write(json.dumps(reply, ensure_ascii=False).encode() + b"\n")
            await writer.drain()
        except (ConnectionError, EOFError, asyncio.LimitOverrunError, ValueError):
            pass  # the client went away (its script was killed), or sent too much: no answer
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _answer(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line)
            command, args = str(request["command"]), dict(request.get("args") or {})
        except (ValueError, KeyError, TypeError):
            return {"ok": False, "error": "malformed request; use the `agent browser` command."}
        return await self._run(request.get("token"), command, args)

    async def _serve_command_line(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """A raw command line from ``browser_client``: parsed here as ``browser_cli`` would,
        answered with what it would print, where, and its exit status."""
        fields = _NulFields(reader)
        token = (await fields.next()).decode(errors="replace")
        cwd = os.fsdecode(await fields.next())
        argv = [os.fsdecode(await fields.next()) for _ in range(int(await fields.next()))]
        try:
            command, args = parse_command_line(argv)
        except CommandLineExit as stop:
            if stop.status is None:
                writer.write(HELP + b"\n")
            else:
                writer.write(b"%d 2\n" % stop.status + stop.message.encode(errors="replace"))
            return
        if reads_stdin(command, args) and self._task_set(token) is not None:
            writer.write(STDIN + b"\n")
            await writer.drain()
            sent = await fields.rest()
            if not sent.startswith(b"+"):
                return  # the client closed instead: it hands the command to another client
            args["script"] = _as_text_mode(sent[1:])
        answer = await self._run(token, command, resolve_paths(command, args, lambda: cwd))
        exit_code, text = outcome(command, reply_of(answer))
        fd, written = printed(exit_code, text)
        writer.write(b"%d %d\n" % (exit_code, fd) + written.encode(errors="replace"))

    async def _run(self, token: object, command: str, args: dict[str, Any]) -> dict[str, Any]:
        tasks = self._task_set(token)
        if tasks is None:
            return {
                "ok": False,
                "error": "not allowed: agent browser works only inside code the session is "
                "running (the token is missing or its run has ended).",
            }
        session = self._session()
        if session is None:
            return {"ok": False, "error": "the session has been closed."}
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            async with self._lock:
                output = await self.commands.run(session, command, args)
        except AgentError as exc:  # ToolError, StaleRefError, SessionLostError: said in one line
            return {"ok": False, "error": one_line(exc)}
        except Exception as exc:
            log.exception("agent browser %s failed", command)
            reason = f"internal error in {command}: {type(exc).__name__}: {exc}"
            return {"ok": False, "error": " ".join(reason.split())}
        finally:
            tasks.discard(task)
        return {"ok": True, "output": output}

    async def close(self) -> None:
        for tasks in self._tokens.values():
            for task in tasks:
                task.cancel()
        self._tokens.clear()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()


class _NulFields:
    """The NUL-terminated fields of a command line, at most ``_REQUEST_LIMIT`` bytes in all
    (past it, ``ValueError``: the request goes unanswered, as a JSON line that long does)."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader
        self._left = _REQUEST_LIMIT

    def _count(self, data: bytes) -> bytes:
        self._left -= len(data)
        if self._left < 0:
            raise ValueError("request too long")
        return data

    async def next(self) -> bytes:
        return self._count(await self._reader.readuntil(b"\0"))[:-1]

    async def rest(self) -> bytes:
        """Everything the client sends until it shuts its side."""
        chunks = []
        while chunk := await self._reader.read(1 << 16):
            chunks.append(self._count(chunk))
        return b"".join(chunks)


def _as_text_mode(data: bytes) -> str:
    """Bytes as ``sys.stdin.read()`` gives them: decoded; newlines as they are (on POSIX,
    Python's stdin translates none)."""
    return os.fsdecode(data)
