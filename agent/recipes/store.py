"""Where recipes are kept: SQLite under the data folder, or Redis when replicas share them.

An entry expires ``ttl_s`` after it was stored (or healed), and is dropped after two failed
heals: a page that keeps changing under a recipe is better planned afresh each time.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import redis.asyncio as redis

from agent.recipes.model import Recipe

__all__ = [
    "CACHE_FILE",
    "MAX_FAILED_HEALS",
    "CacheEntry",
    "RecipeStore",
    "RedisRecipeStore",
    "SqliteRecipeStore",
    "heal_failed",
    "open_recipe_store",
]

CACHE_FILE = "prompt_cache.sqlite3"
MAX_FAILED_HEALS = 2
_REDIS_PREFIX = "agent:prompt-cache:"


@dataclass(frozen=True)
class CacheEntry:
    """One stored recipe and what it is for."""

    key: str
    prompt: str
    origin: str
    path: str
    recipe: Recipe
    stored_at: float
    expires_at: float
    failed_heals: int = 0
    scope: str = ""  # whose it is: the API key name of the server's caller

    def to_json(self) -> str:
        data: dict[str, Any] = {
            "key": self.key,
            "prompt": self.prompt,
            "origin": self.origin,
            "path": self.path,
            "recipe": self.recipe.to_dict(),
            "storedAt": self.stored_at,
            "expiresAt": self.expires_at,
            "failedHeals": self.failed_heals,
            "scope": self.scope,
        }
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> CacheEntry:
        data = json.loads(text)
        return cls(
            key=data["key"],
            prompt=data["prompt"],
            origin=data["origin"],
            path=data["path"],
            recipe=Recipe.from_dict(data["recipe"]),
            stored_at=float(data["storedAt"]),
            expires_at=float(data["expiresAt"]),
            failed_heals=int(data.get("failedHeals", 0)),
            scope=str(data.get("scope", "")),
        )


class RecipeStore(Protocol):
    """The store's interface, the same for both backends."""

    ttl_s: float

    async def get(self, key: str) -> CacheEntry | None: ...
    async def put(self, entry: CacheEntry) -> None: ...
    async def delete(self, key: str) -> bool: ...
    async def entries(self) -> list[CacheEntry]: ...
    async def clear(self) -> int: ...
    async def close(self) -> None: ...


async def heal_failed(store: RecipeStore, key: str) -> bool:
    """Count a failed heal of ``key``; drop it at the second. True when it was dropped."""
    entry = await store.get(key)
    if entry is None:
        return False
    if entry.failed_heals + 1 >= MAX_FAILED_HEALS:
        await store.delete(key)
        return True
    await store.put(replace(entry, failed_heals=entry.failed_heals + 1))
    return False


class SqliteRecipeStore:
    """Recipes in one SQLite file, for a single process or server."""

    def __init__(self, path: Path, *, ttl_s: float) -> None:
        self.path = path
        self.ttl_s = ttl_s
        self._db: sqlite3.Connection | None = None
        self._lock = asyncio.Lock()

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=10, check_same_thread=False)
            db.execute(
                "CREATE TABLE IF NOT EXISTS recipes (key TEXT PRIMARY KEY, expires REAL, "
                "entry TEXT)"
            )
            db.commit()
            self._db = db
        return self._db

    async def _run(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        def work() -> list[tuple[Any, ...]]:
            db = self._connect()
            rows = db.execute(sql, params).fetchall()
            db.commit()
            return rows

        async with self._lock:
            return await asyncio.to_thread(work)

    async def get(self, key: str) -> CacheEntry | None:
        await self._run("DELETE FROM recipes WHERE expires <= ?", time.time())
        rows = await self._run("SELECT entry FROM recipes WHERE key = ?", key)
        return CacheEntry.from_json(rows[0][0]) if rows else None

    async def put(self, entry: CacheEntry) -> None:
        await self._run(
            "INSERT OR REPLACE INTO recipes (key, expires, entry) VALUES (?, ?, ?)",
            entry.key,
            entry.expires_at,
            entry.to_json(),
        )

    async def delete(self, key: str) -> bool:
        found = await self._run("SELECT 1 FROM recipes WHERE key = ?", key)
        await self._run("DELETE FROM recipes WHERE key = ?", key)
        return bool(found)

    async def entries(self) -> list[CacheEntry]:
        await self._run("DELETE FROM recipes WHERE expires <= ?", time.time())
        rows = await self._run("SELECT entry FROM recipes ORDER BY key")
        return [CacheEntry.from_json(row[0]) for row in rows]

    async def clear(self) -> int:
        rows = await self._run("SELECT COUNT(*) FROM recipes")
        await self._run("DELETE FROM recipes")
        return int(rows[0][0])

    async def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


class RedisRecipeStore:
    """Recipes in Redis, shared by every replica; Redis expires them."""

    def __init__(self, url: str, *, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._redis = redis.from_url(url, decode_responses=True)

    async def get(self, key: str) -> CacheEntry | None:
        text = await self._redis.get(_REDIS_PREFIX + key)
        return CacheEntry.from_json(str(text)) if text else None

    async def put(self, entry: CacheEntry) -> None:
        left = max(1, int(entry.expires_at - time.time()))
        await self._redis.set(_REDIS_PREFIX + entry.key, entry.to_json(), ex=left)

    async def delete(self, key: str) -> bool:
        return bool(await self._redis.delete(_REDIS_PREFIX + key))

    async def entries(self) -> list[CacheEntry]:
        keys = [k async for k in self._redis.scan_iter(match=_REDIS_PREFIX + "*")]
        texts = await self._redis.mget(keys) if keys else []
        found = [CacheEntry.from_json(str(text)) for text in texts if text]
        return sorted(found, key=lambda entry: entry.key)

    async def clear(self) -> int:
        keys = [k async for k in self._redis.scan_iter(match=_REDIS_PREFIX + "*")]
        return int(await self._redis.delete(*keys)) if keys else 0

    async def close(self) -> None:
        await self._redis.aclose()


def open_recipe_store(redis_url: str | None, data_dir: Path, *, ttl_s: float) -> RecipeStore:
    """Redis when a URL is given (replicas share it), else SQLite in ``data_dir``; neither
    connects before its first use."""
    if redis_url:
        return RedisRecipeStore(redis_url, ttl_s=ttl_s)
    return SqliteRecipeStore(data_dir / CACHE_FILE, ttl_s=ttl_s)
