"""One Playwright driver per event loop, shared by every session in it.

Playwright's Python API talks to a Node.js driver process; starting one per session cost about
80 MiB and a few hundred milliseconds each. Sessions borrow the loop's driver instead: the first
borrower starts it, the last one to give it back stops it (so a test run or a finished
``asyncio.run`` leaves no driver behind). A session's own browser, pages, routes and DevTools
connection stay its own; only the driver process is shared.

A driver that dies takes every connection of its loop with it; the next borrower after that
starts a fresh one.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from playwright.async_api import Playwright, async_playwright

__all__ = ["borrow_playwright", "return_playwright"]


@dataclass
class _Shared:
    playwright: Playwright | None = None
    users: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


_by_loop: dict[asyncio.AbstractEventLoop, _Shared] = {}


async def borrow_playwright() -> Playwright:
    """The running loop's driver, started if need be; give it back with ``return_playwright``."""
    loop = asyncio.get_running_loop()
    shared = _by_loop.setdefault(loop, _Shared())
    async with shared.lock:
        if shared.playwright is None:
            shared.playwright = await async_playwright().start()
        shared.users += 1
        return shared.playwright


async def return_playwright() -> None:
    """Give the loop's driver back; the last user stops it."""
    loop = asyncio.get_running_loop()
    shared = _by_loop.get(loop)
    if shared is None:
        return
    async with shared.lock:
        shared.users -= 1
        if shared.users > 0 or shared.playwright is None:
            return
        playwright, shared.playwright = shared.playwright, None
        _by_loop.pop(loop, None)
        with contextlib.suppress(Exception):
            await playwright.stop()
