"""Usage per API key, counted as Firecrawl bills it, and the budgets that cap it.

The rule (as Firecrawl's billing page states it for scrapes and browser sessions):

* **1 credit per scrape** that succeeds (a failed one costs nothing);
* **2 credits per browser-minute of an interact session**: from a session's first interact call
  to its end, each minute started costs 2 credits (a session used for 30 s costs 2, for 61 s 4),
  charged as it goes (the first minute at the first call, the others when a later call or the
  session's end finds them started), to the key that scraped it;
* **model tokens** (input and output) of every model request: prompts, and the json and summary
  formats, to the key of the request that made it.

Counts are kept per key name and UTC day (:mod:`agent.service.usage_store`), written in the
background every second and at shutdown. A budget (``[server.key_budgets]``) caps a key name's
credits and tokens per calendar month (UTC): once a key has spent its credits, a scrape or
interact call is answered 402 before any browser starts; once it has used its tokens, so is a
call that needs the model (a prompt, json or summary).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from agent.errors import RequestError
from agent.service.keys import KeyBudget
from agent.service.usage_store import MonthUsage, UsageRow, UsageStore

__all__ = [
    "CREDITS_PER_BROWSER_MINUTE",
    "CREDITS_PER_SCRAPE",
    "UNLIMITED",
    "UsageLedger",
    "month_bounds",
]

log = logging.getLogger(__name__)

CREDITS_PER_SCRAPE = 1
CREDITS_PER_BROWSER_MINUTE = 2
UNLIMITED = 99_999_999
"""What the usage endpoints report as the plan and remainder of a key without a budget (what a
self-hosted Firecrawl reports)."""
_FLUSH_S = 1.0


@dataclass
class _InteractClock:
    key: str
    started: float
    charged_minutes: int


def _today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


def month_bounds(month: str) -> tuple[str, str]:
    """The first instant of ``month`` (``YYYY-MM``) and of the next one, ISO 8601 UTC."""
    year, number = (int(part) for part in month.split("-"))
    following = f"{year + number // 12:04d}-{number % 12 + 1:02d}"
    return f"{month}-01T00:00:00.000Z", f"{following}-01T00:00:00.000Z"


class UsageLedger:
    """Counts credits and tokens per key name; answers how much is spent and what is left."""

    def __init__(
        self,
        store: UsageStore,
        budgets: Mapping[str, KeyBudget],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.budgets = dict(budgets)
        self._clock = clock
        self._pending: dict[tuple[str, str], list[int]] = {}
        self._writing: dict[tuple[str, str], list[int]] = {}
        """What a write under way is sending: still counted until the store has it."""
        self._clocks: dict[str, _InteractClock] = {}
        self._task: asyncio.Task[None] | None = None
        self.last_success: float | None = None
        """When a scrape last succeeded here (epoch seconds), for the queue status."""

    # --- counting ------------------------------------------------------------------------------

    def add(self, key: str, *, credits: int = 0, tokens: int = 0) -> None:
        """Count ``credits`` and ``tokens`` for ``key`` today (written within a second)."""
        if credits or tokens:
            counts = self._pending.setdefault((_today(), key), [0, 0])
            counts[0] += credits
            counts[1] += tokens

    def scraped(self, key: str) -> None:
        """A scrape of ``key`` succeeded."""
        self.add(key, credits=CREDITS_PER_SCRAPE)
        self.last_success = time.time()

    def interacting(self, session_id: str, key: str) -> None:
        """An interact call starts on ``session_id`` (scraped with ``key``): charge the minutes
        its interact session has started."""
        clock = self._clocks.get(session_id)
        if clock is None:
            clock = self._clocks[session_id] = _InteractClock(key, self._clock(), 0)
        self._charge(clock)

    def session_ended(self, session_id: str) -> None:
        """Charge what is left of a session's interact minutes; nothing if it had none."""
        clock = self._clocks.pop(session_id, None)
        if clock is not None:
            self._charge(clock)

    def _charge(self, clock: _InteractClock) -> None:
        minutes = max(1, math.ceil((self._clock() - clock.started) / 60))
        if minutes > clock.charged_minutes:
            extra = minutes - clock.charged_minutes
            clock.charged_minutes = minutes
            self.add(clock.key, credits=extra * CREDITS_PER_BROWSER_MINUTE)

    # --- reading -------------------------------------------------------------------------------

    async def spent(self, key: str, month: str | None = None) -> tuple[int, int]:
        """Credits and tokens ``key`` spent in ``month`` (this one by default)."""
        month = month or _today()[:7]
        credits, tokens = await self.store.month(key, month)
        for (day, unwritten_key), (more_credits, more_tokens) in self._unwritten():
            if unwritten_key == key and day.startswith(month):
                credits, tokens = credits + more_credits, tokens + more_tokens
        return credits, tokens

    def _unwritten(self) -> list[tuple[tuple[str, str], list[int]]]:
        """Counts the store does not have yet: pending, and being written (a write that is
        under way has left the pending counts but may not have reached the store)."""
        return [*self._pending.items(), *self._writing.items()]

    async def months(self) -> list[MonthUsage]:
        """Every month's totals per key name, what is not yet written included."""
        totals = {(m.month, m.key): [m.credits, m.tokens] for m in await self.store.months()}
        for (day, key), (credits, tokens) in self._unwritten():
            counts = totals.setdefault((day[:7], key), [0, 0])
            counts[0] += credits
            counts[1] += tokens
        return [MonthUsage(m, k, c, t) for (m, k), (c, t) in sorted(totals.items())]

    async def check(self, key: str, *, tokens: bool) -> None:
        """Refuse, with a 402, a call ``key`` may no longer make this month.

        Args:
            tokens: whether the call needs the model (a prompt, json or summary).

        Raises:
            RequestError: INSUFFICIENT_CREDITS when the key has spent its credits;
                INSUFFICIENT_TOKENS when it has used its tokens and the call needs the model.
        """
        budget = self.budgets.get(key)
        if budget is None:
            return
        month = _today()[:7]
        credits, used_tokens = await self.spent(key, month)
        if budget.credits is not None and credits >= budget.credits:
            raise RequestError(
                "INSUFFICIENT_CREDITS",
                f"Insufficient credits: the API key {key!r} has spent {credits} of its "
                f"{budget.credits} credits for {month} ([server.key_budgets]). It can make no "
                "more scrapes or interact calls this month: raise its budget or use another key.",
            )
        if tokens and budget.tokens is not None and used_tokens >= budget.tokens:
            raise RequestError(
                "INSUFFICIENT_TOKENS",
                f"Insufficient tokens: the API key {key!r} has used {used_tokens} of its "
                f"{budget.tokens} model tokens for {month} ([server.key_budgets]). Calls that "
                "need the model (prompts, json, summary) are refused this month: raise its "
                "budget or use another key.",
            )

    # --- writing -------------------------------------------------------------------------------

    async def flush(self) -> None:
        """Write what was counted since the last write."""
        if not self._pending or self._writing:
            return  # nothing new, or a write under way (the next one takes what is left)
        self._writing, self._pending = self._pending, {}
        rows = [UsageRow(day, key, c, t) for (day, key), (c, t) in self._writing.items()]
        try:
            await self.store.add(rows)
        except BaseException:
            for row in rows:  # kept for the next write
                counts = self._pending.setdefault((row.day, row.key), [0, 0])
                counts[0] += row.credits
                counts[1] += row.tokens
            raise
        finally:
            self._writing = {}

    async def start(self) -> None:
        """Open the store (a ConfigError if it cannot be written) and write every second."""
        await self.store.open()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._flush_forever())

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(_FLUSH_S)
            try:
                await self.flush()
            except Exception as exc:  # kept and retried: a store that is down loses nothing yet
                log.warning("could not write usage counts: %s", exc)

    async def close(self) -> None:
        """Charge every open interact session its minutes, write everything, close the store."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for session_id in list(self._clocks):
            self.session_ended(session_id)
        try:
            await self.flush()
        except Exception as exc:
            log.error("usage counts not written at shutdown: %s", exc)
        await self.store.close()
