"""Named browser profiles: cookies, localStorage and IndexedDB kept across sessions.

A profile is one JSON file of Playwright storage state (cookies, localStorage, IndexedDB), taken
from and put into the session's browser context, so a profile works the same whether the browser
runs here or on a remote endpoint. Any number of sessions may start from a profile, but only one
at a time may write it back (``saveChanges``): a second writer gets a conflict rather than two
sessions silently overwriting each other's logins. The writer leases live in the session store,
so the rule holds across replicas sharing it. Writes go to a
temporary file in the same directory and then ``os.replace`` it, so a crash never leaves half a
profile; the temporary file such a crash leaves behind is removed by a later save.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.errors import RequestError
from agent.server.schemas import PROFILE_NAME_PATTERN
from agent.server.store import MemoryStore, SessionStore

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext

__all__ = ["ProfileStore"]


class ProfileStore:
    """Profiles stored as ``<directory>/<name>.json``, with one writer lease per name."""

    def __init__(self, directory: Path, leases: SessionStore | None = None) -> None:
        self.directory = directory
        self.leases = leases if leases is not None else MemoryStore()

    def path(self, name: str) -> Path:
        if not PROFILE_NAME_PATTERN.fullmatch(name) or ".." in name:
            raise RequestError("BAD_PROFILE_NAME", f"Profile name {name!r} is not allowed.")
        path = (self.directory / f"{name}.json").resolve()
        if path.parent != self.directory.resolve():
            raise RequestError("BAD_PROFILE_NAME", f"Profile name {name!r} is not allowed.")
        return path

    async def acquire_writer(self, name: str, holder: str) -> None:
        """Give ``holder`` the right to save ``name``, or raise 409 if another session has it."""
        self.path(name)
        if await self.leases.acquire_profile(name, holder) is not None:
            raise RequestError(
                "PROFILE_IN_USE",
                f"Profile {name!r} is already open for writing by another session. Stop that "
                "session first (DELETE /v2/scrape/{scrapeId}/interact), or open this profile "
                "with saveChanges: false to read it without saving.",
            )

    async def release_writer(self, name: str, holder: str) -> None:
        await self.leases.release_profile(name, holder)

    async def writer_of(self, name: str) -> str | None:
        return await self.leases.profile_writer(name)

    async def load(self, name: str) -> dict[str, Any] | None:
        """The stored state of ``name``, or None when it was never saved."""
        path = self.path(name)
        try:
            text = await asyncio.to_thread(path.read_text, encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            state = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RequestError(
                "PROFILE_CORRUPT",
                f"Profile {name!r} at {path} is not valid JSON ({exc}); delete the file to start "
                "the profile afresh.",
            ) from None
        if not isinstance(state, dict):
            raise RequestError(
                "PROFILE_CORRUPT", f"Profile {name!r} at {path} is not a storage-state object."
            )
        return state

    async def apply(self, name: str, context: BrowserContext) -> bool:
        """Load ``name`` into ``context``; False when the profile does not exist yet."""
        state = await self.load(name)
        if state is None:
            return False
        await context.set_storage_state(state)  # type: ignore[arg-type]
        return True

    async def save(self, name: str, context: BrowserContext) -> Path:
        """Write the context's cookies and storage to ``name``, atomically."""
        state = await context.storage_state(indexed_db=True)
        path = self.path(name)
        await asyncio.to_thread(_write_atomically, path, json.dumps(state, indent=1))
        return path


STALE_TEMP_AGE_S = 300.0
"""Age past which a profile's temporary file is a crashed save's leftover, not a save in flight
(in this server or another one sharing the directory): saves take well under a second."""


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temp_files(path)
    fd, temp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o600)  # cookies are credentials
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def _remove_stale_temp_files(path: Path) -> None:
    """Delete what saves of ``path`` killed before their rename left behind."""
    own = re.compile(rf"\.{re.escape(path.stem)}\.[A-Za-z0-9_]{{8}}\.tmp")
    cutoff = time.time() - STALE_TEMP_AGE_S
    for candidate in path.parent.glob(f".{path.stem}.*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            if own.fullmatch(candidate.name) and candidate.stat().st_mtime < cutoff:
                candidate.unlink()
