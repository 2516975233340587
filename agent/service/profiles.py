"""Named browser profiles: cookies, localStorage and IndexedDB kept across sessions.

A profile is one JSON file of Playwright storage state (cookies, localStorage, IndexedDB), taken
from and put into the session's browser context, so a profile works the same whether the browser
runs here or on a remote endpoint. Any number of sessions may start from a profile, but only one
at a time may write it back (``saveChanges``): a second writer gets a conflict rather than two
sessions silently overwriting each other's logins. The writer leases live in the session store,
so the rule holds across replicas sharing it. Writes go to a
temporary file in the same directory and then ``os.replace`` it, so a crash never leaves half a
profile; the temporary file such a crash leaves behind is removed by a later save.

A name is anything Firecrawl takes (1-128 characters, ``user@example.com``, even ``../x``); the
file is named after it, never by it. A name that is already a plain file name (a letter or digit,
then up to 63 of letters, digits, ``.``, ``_``, ``-``, and no ``..``) is stored as
``<name>.json``, as before names were opened up; any other as a readable prefix, ``~`` and a
hash of the whole name (``user_example_com~1f0e....json``). No plain name holds a ``~``, so the
two kinds never meet, and neither can hold a slash or start with a dot.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.errors import RequestError
from agent.service.schemas import check_profile_name
from agent.service.store import MemoryStore, SessionStore

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext

__all__ = ["ProfileStore", "file_name"]

_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_NOT_PLAIN = re.compile(r"[^A-Za-z0-9_-]")
_PREFIX_CHARS = 40


def file_name(name: str) -> str:
    """The file (in the profiles directory) that profile ``name`` is stored in."""
    if _PLAIN_NAME.fullmatch(name) and ".." not in name:
        return f"{name}.json"  # the names allowed before any character was: their files stay
    prefix = _NOT_PLAIN.sub("_", name)[:_PREFIX_CHARS]
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:16]
    return f"{prefix}~{digest}.json"


class ProfileStore:
    """Profiles stored as ``<directory>/<file_name(name)>``, with one writer lease per name."""

    def __init__(self, directory: Path, leases: SessionStore | None = None) -> None:
        self.directory = directory
        self.leases = leases if leases is not None else MemoryStore()

    def path(self, name: str) -> Path:
        """Where ``name`` is stored: always directly inside the profiles directory.

        Raises:
            RequestError: BAD_PROFILE_NAME when Firecrawl would refuse the name too.
        """
        try:
            check_profile_name(name)
        except ValueError as exc:
            raise RequestError("BAD_PROFILE_NAME", f"The {exc}.") from None
        path = (self.directory / file_name(name)).resolve()
        if path.parent != self.directory.resolve():  # file_name cannot do this: a last guard
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
