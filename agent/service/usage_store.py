"""Where usage per key and day is kept: SQLite in the data folder, or Redis shared by replicas.

Each row is one key name on one UTC day: credits spent and model tokens used. Both stores also
keep the totals per month, which budgets and the usage endpoints read. Both survive a restart:
SQLite is a file (``AGENT_DATA_DIR/usage.sqlite3``), and Redis keeps what it keeps.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import redis.asyncio as redis

from agent.errors import ConfigError

__all__ = [
    "MonthUsage",
    "RedisUsageStore",
    "SqliteUsageStore",
    "UsageRow",
    "UsageStore",
    "open_usage_store",
]

USAGE_FILE = "usage.sqlite3"


@dataclass(frozen=True)
class UsageRow:
    """What one key name spent on one day (``YYYY-MM-DD``, UTC)."""

    day: str
    key: str
    credits: int = 0
    tokens: int = 0


@dataclass(frozen=True)
class MonthUsage:
    """What one key name spent in one month (``YYYY-MM``)."""

    month: str
    key: str
    credits: int
    tokens: int


class UsageStore(ABC):
    """Counts per key and day, added to and read back by month."""

    async def open(self) -> None:
        """Make sure the store can be written (at the server's start)."""
        return None

    @abstractmethod
    async def add(self, rows: Sequence[UsageRow]) -> None: ...

    @abstractmethod
    async def month(self, key: str, month: str) -> tuple[int, int]:
        """Credits and tokens ``key`` spent in ``month``."""

    @abstractmethod
    async def months(self) -> list[MonthUsage]:
        """Every month's totals, per key name, oldest first."""

    async def close(self) -> None:
        return None


class SqliteUsageStore(UsageStore):
    """A SQLite file; writes from several processes wait for each other (WAL, busy timeout)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.path, timeout=10, check_same_thread=False)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute(
                    "CREATE TABLE IF NOT EXISTS usage (day TEXT NOT NULL, key TEXT NOT NULL, "
                    "credits INTEGER NOT NULL DEFAULT 0, tokens INTEGER NOT NULL DEFAULT 0, "
                    "PRIMARY KEY (key, day))"
                )
                db.commit()
            except (OSError, sqlite3.Error) as exc:
                raise ConfigError(
                    f"The usage counts cannot be kept in {self.path} ({exc}): set AGENT_DATA_DIR "
                    "to a folder this server may write, or AGENT_REDIS_URL to keep them in Redis."
                ) from exc
            self._db = db
        return self._db

    def _write(self, sql: str, rows: Sequence[tuple[object, ...]]) -> None:
        with self._lock:
            db = self._connect()
            db.executemany(sql, rows)
            db.commit()

    def _read(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        with self._lock:
            return list(self._connect().execute(sql, params).fetchall())

    async def open(self) -> None:
        await asyncio.to_thread(self._read, "SELECT 1")

    async def add(self, rows: Sequence[UsageRow]) -> None:
        values = [(r.day, r.key, r.credits, r.tokens) for r in rows]
        await asyncio.to_thread(
            self._write,
            "INSERT INTO usage (day, key, credits, tokens) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (key, day) DO UPDATE SET credits = credits + excluded.credits, "
            "tokens = tokens + excluded.tokens",
            values,
        )

    async def month(self, key: str, month: str) -> tuple[int, int]:
        found = await asyncio.to_thread(
            self._read,
            "SELECT COALESCE(SUM(credits), 0), COALESCE(SUM(tokens), 0) FROM usage "
            "WHERE key = ? AND day >= ? AND day < ?",
            (key, f"{month}-01", f"{month}-32"),
        )
        credits, tokens = found[0]
        return int(str(credits)), int(str(tokens))

    async def months(self) -> list[MonthUsage]:
        found = await asyncio.to_thread(
            self._read,
            "SELECT substr(day, 1, 7), key, SUM(credits), SUM(tokens) FROM usage "
            "GROUP BY 1, 2 ORDER BY 1, 2",
        )
        return [MonthUsage(str(m), str(k), int(str(c)), int(str(t))) for m, k, c, t in found]

    async def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


class RedisUsageStore(UsageStore):
    """Two hashes in Redis (``agent:usage:days``, ``agent:usage:months``), fields
    ``PERIOD|KEY|credits`` and ``PERIOD|KEY|tokens``, every replica adding to them."""

    def __init__(self, url: str, *, prefix: str = "agent:") -> None:
        self._redis = redis.from_url(url, decode_responses=True)
        self._days = f"{prefix}usage:days"
        self._months = f"{prefix}usage:months"

    async def add(self, rows: Sequence[UsageRow]) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for row in rows:
                for hash_name, period in ((self._days, row.day), (self._months, row.day[:7])):
                    if row.credits:
                        pipe.hincrby(hash_name, f"{period}|{row.key}|credits", row.credits)
                    if row.tokens:
                        pipe.hincrby(hash_name, f"{period}|{row.key}|tokens", row.tokens)
            await pipe.execute()

    async def month(self, key: str, month: str) -> tuple[int, int]:
        credits, tokens = await self._redis.hmget(
            self._months, [f"{month}|{key}|credits", f"{month}|{key}|tokens"]
        )
        return int(credits or 0), int(tokens or 0)

    async def months(self) -> list[MonthUsage]:
        totals: dict[tuple[str, str], dict[str, int]] = {}
        for field, value in (await self._redis.hgetall(self._months)).items():
            month, _, rest = str(field).partition("|")
            key, _, kind = rest.rpartition("|")
            totals.setdefault((month, key), {})[kind] = int(value)
        return [
            MonthUsage(month, key, counts.get("credits", 0), counts.get("tokens", 0))
            for (month, key), counts in sorted(totals.items())
        ]

    async def close(self) -> None:
        await self._redis.aclose()


def open_usage_store(redis_url: str | None, data_dir: Path) -> UsageStore:
    """Redis when the server shares one, else a SQLite file in the data folder."""
    if redis_url:
        return RedisUsageStore(redis_url)
    return SqliteUsageStore(data_dir / USAGE_FILE)
