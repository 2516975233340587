"""A first-come-first-served line of callers, each waiting a bounded time for something handed
out one at a time: a started browser (``agent.service.pool``), a turn at the CPU
(``agent.service.turns``).

Two moments are where such a line loses things, so they are handled here, once: what is handed
to a caller just as its time runs out is still taken, not dropped; and what is handed to a
caller being cancelled goes back to its giver (``give_back``), to pass on to the next in line.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["WaitLine"]

T = TypeVar("T")


class WaitLine(Generic[T]):
    """Callers in the order they came; ``hand`` gives the longest-waiting one what it waits for."""

    def __init__(self) -> None:
        self._places: collections.deque[asyncio.Future[T]] = collections.deque()

    def __len__(self) -> int:
        return len(self._places)

    def join(self) -> asyncio.Future[T]:
        """A place at the back of the line, to ``wait`` on (joining is separate from waiting so
        that the caller can count itself in before it starts to wait)."""
        place: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._places.append(place)
        return place

    async def wait(
        self, place: asyncio.Future[T], limit_s: float, *, give_back: Callable[[T], None]
    ) -> T:
        """What is handed to ``place`` within ``limit_s``.

        Raises:
            TimeoutError: nothing came in time (the caller has left the line).
            Exception: what ``fail`` handed this place instead.
        """
        try:
            return await asyncio.wait_for(asyncio.shield(place), limit_s)
        except TimeoutError:
            if _holds_a_value(place):
                return place.result()  # it came just as the time ran out
            self._leave(place)
            raise
        except BaseException:
            self._leave(place)
            if _holds_a_value(place):
                give_back(place.result())  # cancelled as it came: it is not this caller's
            raise

    def hand(self, value: T) -> bool:
        """Give ``value`` to the longest-waiting caller; False when nobody waits."""
        place = self._next()
        if place is None:
            return False
        place.set_result(value)
        return True

    def fail(self, error: BaseException) -> bool:
        """Tell the longest-waiting caller that what it waits for will not come (it raises
        ``error``); False when nobody waits."""
        place = self._next()
        if place is None:
            return False
        place.set_exception(error)
        return True

    def _next(self) -> asyncio.Future[T] | None:
        while self._places:
            place = self._places.popleft()
            if not place.done():
                return place
        return None

    def _leave(self, place: asyncio.Future[T]) -> None:
        with contextlib.suppress(ValueError):
            self._places.remove(place)


def _holds_a_value(place: asyncio.Future[T]) -> bool:
    return place.done() and not place.cancelled() and place.exception() is None
