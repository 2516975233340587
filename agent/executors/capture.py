"""Reading a child's stdout or stderr pipe and keeping what one call wrote to it.

A warm worker outlives many calls, so its pipes are read for its whole life and each call marks
where its output ends: after the code finishes, the worker writes a random per-call sentinel to
both pipes, and everything before it belongs to the call. Output is captured at the file
descriptor, so a subprocess the code starts is captured too, and what was printed before a
timeout kill is kept.
"""

from __future__ import annotations

import asyncio
import contextlib

__all__ = ["StreamCapture"]


class StreamCapture:
    """Pumps one pipe into a capped buffer for the call in progress."""

    def __init__(self, stream: asyncio.StreamReader, limit: int) -> None:
        self._stream = stream
        self._limit = limit
        self._buffer = bytearray()
        self._pending = b""  # bytes that may be the start of the sentinel
        self._sentinel: bytes | None = None
        self._active = False
        self._found = asyncio.Event()
        self.truncated = False
        self.closed = asyncio.Event()
        self._task = asyncio.create_task(self._pump())

    def begin(self, sentinel: bytes | None = None) -> None:
        """Start keeping output for a new call, up to ``sentinel`` when one is given."""
        self._buffer.clear()
        self._pending = b""
        self._sentinel = sentinel
        self.truncated = False
        self._found.clear()
        self._active = True

    def end(self) -> str:
        """Stop keeping output; return what the call wrote, decoded."""
        if self._active:
            self._append(self._pending)
        self._pending = b""
        self._active = False
        return self._buffer.decode("utf-8", errors="replace")

    async def wait_for_sentinel(self, timeout_s: float) -> bool:
        """Wait until the sentinel (or the end of the pipe) has been read."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._found.wait(), timeout_s)
        return self._found.is_set()

    async def wait_closed(self, timeout_s: float) -> bool:
        """Wait until the pipe reached its end (every writer exited)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.closed.wait(), timeout_s)
        return self.closed.is_set()

    async def aclose(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task

    async def _pump(self) -> None:
        try:
            while chunk := await self._stream.read(65536):
                self._feed(chunk)
        except (OSError, ValueError):
            pass  # the pipe broke with the process; what was read is kept
        finally:
            self.closed.set()
            self._found.set()

    def _feed(self, chunk: bytes) -> None:
        if not self._active:
            return  # output between calls (a leftover background task) belongs to no call
        if self._sentinel is None:
            self._append(chunk)
            return
        data = self._pending + chunk
        index = data.find(self._sentinel)
        if index >= 0:
            self._append(data[:index])
            self._pending = b""
            self._active = False
            self._found.set()
            return
        keep = len(self._sentinel) - 1
        self._append(data[:-keep] if len(data) > keep else b"")
        self._pending = data[-keep:] if len(data) > keep else data

    def _append(self, data: bytes) -> None:
        room = self._limit - len(self._buffer)
        if len(data) > room:
            self.truncated = True
            data = data[: max(room, 0)]
        self._buffer += data
