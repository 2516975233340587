"""``agent cache list|show KEY|clear [KEY]``: the prompt cache, read from where the server keeps
it (Redis when ``AGENT_REDIS_URL`` is set, else SQLite in the data folder)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.recipes import RecipeStore

__all__ = ["register"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "cache",
        help="list, show or clear the prompt cache's recipes",
        description="`agent cache list` lists the cached recipes, `agent cache show KEY` prints "
        "one with its steps, `agent cache clear [KEY]` forgets one or all. Reads the store the "
        "server uses: Redis with AGENT_REDIS_URL, else SQLite in the data folder.",
    )
    parser.add_argument("action", choices=("list", "show", "clear"))
    parser.add_argument("key", nargs="?", help="a recipe's key, from `agent cache list`")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=_cache)


def _open() -> RecipeStore:
    # Imported here, not at the top: every `agent` command loads this module to register it,
    # and the recipes pull in the tools and the model layer (a second of start-up for nothing).
    from agent.config import load_settings
    from agent.recipes import open_recipe_store
    from agent.service.settings import ServerSettings

    settings = load_settings()
    redis_url = ServerSettings().redis_url
    return open_recipe_store(redis_url, settings.data_dir, ttl_s=settings.prompt_cache_ttl)


def _cache(args: argparse.Namespace) -> int:
    if args.action == "show" and not args.key:
        print("agent cache: show needs a KEY (see `agent cache list`).", file=sys.stderr)
        return 2
    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    store = _open()
    try:
        if args.action == "list":
            entries = await store.entries()
            if args.json:
                print(json.dumps([json.loads(e.to_json()) for e in entries], indent=2))
            for entry in [] if args.json else entries:
                left = (entry.expires_at - time.time()) / 3600
                print(
                    f"{entry.key}  {entry.origin}{entry.path}  {len(entry.recipe.steps)} steps  "
                    f"{left:.0f} h left  {entry.prompt!r}"
                )
            return 0
        if args.action == "show":
            found = await store.get(args.key)
            if found is None:
                print(_missing(args.key), file=sys.stderr)
                return 1
            print(json.dumps(json.loads(found.to_json()), indent=2))
            return 0
        if args.key:
            if not await store.delete(args.key):
                print(_missing(args.key), file=sys.stderr)
                return 1
            print(f"deleted {args.key}")
            return 0
        print(f"deleted {await store.clear()} recipe(s)")
        return 0
    finally:
        await store.close()


def _missing(key: str) -> str:
    return f"agent cache: no recipe {key!r}; `agent cache list` shows the keys there are."
