"""One browser's DevTools connection, shared by several clients, each in a session of its own.

A session's Chromium listens on no TCP port: it speaks CDP over a pipe (``--remote-debugging-
pipe``) to this process alone. Everything that needs DevTools (our own Playwright connection,
the code executors' ``page``, agent-browser, a client holding the session's ``cdpUrl``) is a
*client* of a ``CdpRouter``, reached over a private unix socket or through the API's token-guarded
WebSocket, never over a port other local users can open.

Clients must not see each other's state, so each gets a DevTools session of its own on the
browser target (``Target.attachToBrowserTarget``): Chromium keeps auto-attach, target discovery
and enabled domains per session. The router then only rewrites and routes:

* a client's message without a ``sessionId`` goes to its own browser session; one with a
  ``sessionId`` must name a session that client attached (else it is answered with CDP's own
  "Session with given id not found"); message ids are renumbered so answers find their way back;
* an event on a client's browser session goes to that client (the ``sessionId`` stripped), an
  event on a child session to the client that attached it; ``Target.attachedToTarget`` and
  ``Target.detachedFromTarget`` keep that ownership up to date;
* every client but the owner (the session's own connection) is kept from the machine the browser
  runs on (``agent.browser.cdp_guard``): only allowlisted methods, flat sessions only (so every
  command is a message of its own, checked here), no ``file://`` pages, no paths, downloads
  only into the session's own folder, no closing the browser for everyone;
* a client that goes away has its browser session detached, and its child sessions with it;
* on a browser that other sessions share, every client is confined to the session's browser
  context (``agent.browser.cdp_confine``), on every session it holds: the browser sessions (the
  one the router gave it, and any more it attaches with ``Target.attachToBrowserTarget``) and
  its pages' and workers' sessions at any depth.

The upstream is anything that sends and receives CDP messages as text (``CdpUpstream``): the
pipe of a local Chromium, or a WebSocket to a remote one.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from agent.browser.cdp_confine import Confinement
from agent.browser.cdp_downloads import DOWNLOAD_EVENTS, Download, DownloadLimits, files_of
from agent.browser.cdp_guard import refusal

__all__ = ["CdpClient", "CdpRouter", "CdpUpstream", "PipeUpstream"]

log = logging.getLogger(__name__)

# How Chromium ends a message addressed to a session: this member, the id, '"}'.
_SESSION_MEMBER = ',"sessionId":"'
_SESSION_NOT_FOUND = {"code": -32001, "message": "Session with given id not found."}
_SET_DOWNLOADS = frozenset({"Browser.setDownloadBehavior", "Page.setDownloadBehavior"})


class CdpUpstream(Protocol):
    """A CDP connection to a browser: messages out, messages in, as text."""

    async def send(self, message: str) -> None: ...

    async def receive(self) -> str:
        """The next message; raises ``ConnectionError`` once the browser is gone."""
        ...

    async def close(self) -> None: ...


class CdpClient(Protocol):
    """One client of the router (a WebSocket, whichever library serves it)."""

    async def send(self, message: str) -> None: ...

    async def receive(self) -> str:
        """The next message; raises ``ConnectionError`` (or the library's closed error) when
        the client has gone."""
        ...


@dataclass(eq=False)
class _Attached:
    client: CdpClient
    browser_session: str
    owner: bool
    sessions: set[str] = field(default_factory=set)
    browser_sessions: set[str] = field(default_factory=set)
    """More sessions on the browser target, attached by the client itself."""


class PipeUpstream:
    """CDP over Chromium's ``--remote-debugging-pipe``: NUL-terminated JSON on two file
    descriptors (the browser reads commands on its fd 3 and writes on its fd 4)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.WriteTransport) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def open(cls, read_fd: int, write_fd: int) -> PipeUpstream:
        """Wrap our ends of the two pipes (read what the browser writes, write what it reads)."""
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=256 * 1024 * 1024)
        await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader),
            os.fdopen(read_fd, "rb", buffering=0),
        )
        transport, _ = await loop.connect_write_pipe(
            asyncio.Protocol, os.fdopen(write_fd, "wb", buffering=0)
        )
        return cls(reader, transport)

    async def send(self, message: str) -> None:
        if self._writer.is_closing():
            raise ConnectionError("the browser's DevTools pipe is closed")
        self._writer.write(message.encode() + b"\0")

    async def receive(self) -> str:
        try:
            data = await self._reader.readuntil(b"\0")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            raise ConnectionError("the browser closed its DevTools pipe") from exc
        return data[:-1].decode()

    async def close(self) -> None:
        self._writer.close()


class CdpRouter:
    """Routes CDP between one upstream and many clients; see the module docstring."""

    def __init__(
        self,
        upstream: CdpUpstream,
        *,
        context_id: str | None = None,
        downloads_dir: str | None = None,
    ) -> None:
        """``context_id``: confine every client to this browser context (a shared browser);
        ``downloads_dir``: where clients' downloads go (a boxed browser's own downloads folder),
        instead of a folder made on first use."""
        self._upstream = upstream
        self._confinement = Confinement(context_id) if context_id else None
        self._discovering: asyncio.Task[dict[str, Any]] | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[_Attached | None, Any, str]] = {}
        self._own_calls: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._by_session: dict[str, _Attached] = {}
        self._reader: asyncio.Task[None] | None = None
        self._closed = asyncio.Event()
        self._downloads_dir: str | None = downloads_dir
        self._limits: DownloadLimits | None = None
        self._download_folders: set[str] = set()
        self._stopping: set[asyncio.Task[None]] = set()
        self.on_lost: Callable[[], Awaitable[None] | None] | None = None

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def confine(self, context_id: str) -> None:
        """Confine every client from now on to browser context ``context_id`` (call before the
        first client is served)."""
        self._confinement = Confinement(context_id)

    def limit_downloads(self, max_file_bytes: int, quota_bytes: int) -> None:
        """Cancel any download larger than ``max_file_bytes``, and any that would take the
        session's downloads past ``quota_bytes`` in all (``agent.browser.cdp_downloads``)."""
        self._limits = DownloadLimits(max_file_bytes, quota_bytes)

    async def download_notes(self) -> list[str]:
        """What the download limits stopped since the last call, one sentence each (after the
        cancellations under way, for a second at most)."""
        if self._limits is None:
            return []
        if self._stopping:
            await asyncio.wait(set(self._stopping), timeout=1.0)
        return self._limits.take_notes()

    def start(self) -> None:
        """Start reading the upstream (call once, inside the event loop)."""
        if self._reader is None:
            self._reader = asyncio.get_running_loop().create_task(self._read_upstream())

    async def serve(self, client: CdpClient, *, owner: bool = False) -> None:
        """Serve one client until it disconnects or the browser goes away.

        ``owner`` marks the session's own connection, the only one allowed to close the
        browser.
        """
        self.start()
        if self.closed:
            return
        if self._confinement is not None:
            # The root session learns every target's context from the targets' own events.
            if self._discovering is None:
                self._discovering = asyncio.ensure_future(
                    self.call("Target.setDiscoverTargets", {"discover": True})
                )
            await asyncio.shield(self._discovering)
        answer = await self.call("Target.attachToBrowserTarget", {})
        attached = _Attached(client, str(answer["sessionId"]), owner)
        self._by_session[attached.browser_session] = attached
        try:
            await self._pump_client(attached)
        finally:
            self._forget(attached)
            if not self.closed:
                with contextlib.suppress(Exception):
                    await self._send(
                        {
                            "id": next(self._ids),
                            "method": "Target.detachFromTarget",
                            "params": {"sessionId": attached.browser_session},
                        }
                    )

    async def _pump_client(self, attached: _Attached) -> None:
        client = attached.client
        stop = asyncio.ensure_future(self._closed.wait())
        try:
            while True:
                receive = asyncio.ensure_future(client.receive())
                done, _ = await asyncio.wait({receive, stop}, return_when=asyncio.FIRST_COMPLETED)
                if receive not in done:
                    receive.cancel()
                    return
                try:
                    text = receive.result()
                except Exception:  # the client went away, whichever library says so
                    return
                await self._from_client(attached, text)
        finally:
            stop.cancel()

    async def _from_client(self, attached: _Attached, text: str) -> None:
        try:
            message = json.loads(text)
            client_id = message["id"]
        except (ValueError, KeyError, TypeError):
            return  # not a CDP command: nothing to answer
        session = message.get("sessionId")
        if session is None:
            message["sessionId"] = attached.browser_session
        elif session not in attached.sessions and session != attached.browser_session:
            await self._reply(attached, {"id": client_id, "error": _SESSION_NOT_FOUND})
            return
        method = str(message.get("method", ""))
        params = message.get("params")
        if not isinstance(params, dict):
            params = message["params"] = {}
        refused = None if attached.owner else refusal(method, params, self._downloads)
        folder = params.get("downloadPath")
        if method in _SET_DOWNLOADS and isinstance(folder, str) and refused is None:
            # Where the limits may remove a download: the owner's folder, or the session's own
            # (every other client's is rewritten to it), never one a client named.
            if attached.owner or folder == self._downloads_dir:
                self._download_folders.add(folder)
        if refused is None and self._confinement is not None:
            browser_level = (
                session in (None, attached.browser_session) or session in attached.browser_sessions
            )
            refused = self._confinement.refusal(method, params, browser_level=browser_level)
        if refused is not None:
            answer: dict[str, Any] = {
                "id": client_id,
                "error": {"code": -32000, "message": refused},
            }
            if session is not None:
                answer["sessionId"] = session  # so the client finds the command it answers
            await self._reply(attached, answer)
            return
        upstream_id = next(self._ids)
        self._pending[upstream_id] = (attached, client_id, method)
        message["id"] = upstream_id
        try:
            await self._send(message)
        except ConnectionError:
            self._pending.pop(upstream_id, None)

    def _downloads(self) -> str:
        """The folder the clients' downloads go to, made on first use and removed with the
        router."""
        if self._downloads_dir is None:
            self._downloads_dir = tempfile.mkdtemp(prefix="agent-downloads-")
        return self._downloads_dir

    async def _reply(self, attached: _Attached, message: dict[str, Any]) -> None:
        await self._send_text(attached, json.dumps(message))

    async def _send(self, message: dict[str, Any]) -> None:
        await self._upstream.send(json.dumps(message))

    async def call(
        self, method: str, params: dict[str, Any], *, session: str | None = None
    ) -> dict[str, Any]:
        """A command of the router's own (unconfined), on the upstream's root session or on
        ``session``, one the router attached itself (``agent.browser.main_world``): no client
        sees its answers or events.

        Raises:
            ConnectionError: the browser is gone, or answered with an error.
        """
        call_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._own_calls[call_id] = future
        message: dict[str, Any] = {"id": call_id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        await self._send(message)
        stop: asyncio.Future[Any] = asyncio.ensure_future(self._closed.wait())
        try:
            done, _ = await asyncio.wait({future, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if future not in done:
            future.cancel()
            raise ConnectionError("the browser went away")
        answer = future.result()
        if "error" in answer:
            raise ConnectionError(f"{method} failed: {answer['error']}")
        return dict(answer.get("result") or {})

    async def _read_upstream(self) -> None:
        try:
            while True:
                text = await self._upstream.receive()
                if await self._forward_verbatim(text):
                    continue
                try:
                    message = json.loads(text)
                except ValueError:
                    continue
                await self._from_upstream(message)
        except ConnectionError:
            pass
        except Exception:
            log.exception("the CDP router stopped reading its browser")
        finally:
            self._closed.set()
            for future in self._own_calls.values():
                future.cancel()
            if self.on_lost is not None:
                outcome = self.on_lost()
                if asyncio.iscoroutine(outcome):
                    await outcome

    async def _forward_verbatim(self, text: str) -> bool:
        """Route a browser message that only needs re-addressing, without decoding it.

        Most traffic is answers and events of a client's own sessions (a snapshot's answer alone
        can be megabytes), and all the router does to them is swap the id and drop the client's
        browser ``sessionId``. Chromium writes them in one shape (``{"id":N,...}`` and
        ``{"method":"...",...}``, the ``sessionId`` appended as the last member), so both edits
        are string splices. Only the browser's text is read this way, never a client's. Returns
        False for what needs the full path: the router's own calls, ``Target.*`` answers and
        events (ownership, confinement) and anything in another shape.
        """
        if text.startswith('{"id":'):
            comma = text.find(",", 6)
            digits = text[6:comma]
            if comma < 0 or not digits.isdigit():
                return False
            upstream_id = int(digits)
            pending = self._pending.get(upstream_id)
            if pending is None or pending[2].startswith("Target."):
                return False
            attached, client_id, _ = pending
            if attached is None:
                return False
            del self._pending[upstream_id]
            body = text[comma:]
            own_session = f',"sessionId":"{attached.browser_session}"}}'
            if body.endswith(own_session):
                body = body[: -len(own_session)] + "}"
            client_id_json = str(client_id) if type(client_id) is int else json.dumps(client_id)
            await self._send_text(attached, '{"id":' + client_id_json + body)
            return True
        if text.startswith('{"method":"'):
            method = text[11 : text.find('"', 11)]
            if method.startswith("Target.") or not text.endswith('"}'):
                return False
            if self._limits is not None and method in DOWNLOAD_EVENTS:
                return False
            start = text.rfind(_SESSION_MEMBER)
            if start < 0:
                return False
            session = text[start + len(_SESSION_MEMBER) : -2]
            attached = self._by_session.get(session)
            if attached is not None:
                if session == attached.browser_session:
                    text = text[:start] + "}"
                await self._send_text(attached, text)
            # else: an event of a session whose client has gone, dropped as the full path does
            return True
        return False

    async def _send_text(self, attached: _Attached, text: str) -> None:
        with contextlib.suppress(Exception):
            await attached.client.send(text)

    async def _from_upstream(self, message: dict[str, Any]) -> None:
        if "id" in message:
            own = self._own_calls.pop(message["id"], None)
            if own is not None:
                if not own.done():
                    own.set_result(message)
                return
            attached, client_id, method = self._pending.pop(message["id"], (None, None, ""))
            if attached is None:
                return
            message["id"] = client_id
            if self._confinement is not None and isinstance(message.get("result"), dict):
                message["result"] = self._confinement.answer(method, message["result"])
            self._adopt_answer(attached, message, method)
            if message.get("sessionId") == attached.browser_session:
                del message["sessionId"]
            await self._reply(attached, message)
            return
        session = message.get("sessionId")
        attached = self._by_session.get(session) if session else None
        event = message.get("method")
        params = message.get("params") or {}
        if self._limits is not None and event in DOWNLOAD_EVENTS:
            self._watch_download(str(event), params)
        if self._confinement is not None:
            shown = self._confinement.shows(message)
            self._confinement.learn(message)
            if attached is not None and not shown:
                if event == "Target.attachedToTarget":
                    await self._let_go(str(session), params)
                return
        if attached is None:
            return  # an event of the root session, or of a session whose client has gone
        if event == "Target.attachedToTarget" and params.get("sessionId"):
            attached.sessions.add(params["sessionId"])
            self._by_session[params["sessionId"]] = attached
        elif event == "Target.detachedFromTarget" and params.get("sessionId"):
            attached.sessions.discard(params["sessionId"])
            self._by_session.pop(params["sessionId"], None)
        if session == attached.browser_session:
            del message["sessionId"]
        await self._reply(attached, message)

    def _watch_download(self, event: str, params: dict[str, Any]) -> None:
        assert self._limits is not None
        download = self._limits.observe(event, params)
        if download is None:
            return
        if download.removed:
            if self._remove_download(download):
                self._limits.stopped(download, how="removed")
            return
        task = asyncio.get_running_loop().create_task(self._cancel_download(download))
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    async def _cancel_download(self, download: Download) -> None:
        assert self._limits is not None
        params: dict[str, Any] = {"guid": download.guid}
        if self._confinement is not None:
            params["browserContextId"] = self._confinement.context_id
        try:
            await self.call("Browser.cancelDownload", params)
        except ConnectionError:
            # Not this context's download (a shared browser tells every session of all of them),
            # or it has just finished: then the completed event removes its file.
            if not download.removed and download.state != "completed":
                self._limits.forget(download)
            return
        self._remove_download(download)  # what Chromium had written, if it left it
        self._limits.stopped(download, how="cancelled")

    def _remove_download(self, download: Download) -> bool:
        """Remove a download's files from the folders downloads were sent to
        (``agent.browser.cdp_downloads.files_of``); whether there were any."""
        removed = False
        for folder in self._download_folders:
            for path in files_of(download, folder):
                with contextlib.suppress(OSError):
                    os.remove(path)
                    removed = True
        return removed

    async def _let_go(self, session: str, params: dict[str, Any]) -> None:
        """Release a target of another context that auto-attach attached: let it run if it
        waits for a debugger, and detach from it, unseen by the client."""
        child = params.get("sessionId")
        if not isinstance(child, str):
            return
        with contextlib.suppress(ConnectionError):
            if params.get("waitingForDebugger"):
                await self._send(
                    {"id": next(self._ids), "method": "Runtime.runIfWaitingForDebugger",
                     "sessionId": child}
                )  # fmt: skip
            await self._send(
                {"id": next(self._ids), "method": "Target.detachFromTarget",
                 "params": {"sessionId": child}, "sessionId": session}
            )  # fmt: skip

    def _adopt_answer(self, attached: _Attached, message: dict[str, Any], method: str) -> None:
        """A session a client attached by command (``Target.attachToTarget``) is its own; one on
        the browser target (``Target.attachToBrowserTarget``) is checked as its first one is."""
        result = message.get("result")
        if isinstance(result, dict) and isinstance(result.get("sessionId"), str):
            attached.sessions.add(result["sessionId"])
            self._by_session[result["sessionId"]] = attached
            if method == "Target.attachToBrowserTarget":
                attached.browser_sessions.add(result["sessionId"])

    def _forget(self, attached: _Attached) -> None:
        for session in [attached.browser_session, *attached.sessions]:
            if self._by_session.get(session) is attached:
                del self._by_session[session]
        for upstream_id in [i for i, (a, _, _) in self._pending.items() if a is attached]:
            del self._pending[upstream_id]

    async def close(self) -> None:
        """Stop routing: every client's serve() returns and the upstream is closed."""
        self._closed.set()
        if self._downloads_dir is not None:
            shutil.rmtree(self._downloads_dir, ignore_errors=True)
        await self._upstream.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
