"""The prompt cache over HTTP (ours, not Firecrawl's): list, show and delete the recipes the
calling key's prompts recorded. A key sees and deletes only its own."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Request

from agent.errors import RequestError
from agent.server.connection import server_state
from agent.server.routes import require_api_key
from agent.service.accounting import current_key

if TYPE_CHECKING:
    from agent.recipes import CacheEntry, RecipeStore

__all__ = ["router"]

router = APIRouter(prefix="/v2", dependencies=[Depends(require_api_key)])


def _store(request: Request) -> RecipeStore:
    store = server_state(request).recipes
    if store is None:  # pragma: no cover - every built state has one
        raise RequestError("NOT_FOUND", "This server keeps no prompt cache.")
    return store


def _summary(entry: CacheEntry) -> dict[str, Any]:
    return {
        "key": entry.key,
        "prompt": entry.prompt,
        "origin": entry.origin,
        "path": entry.path,
        "steps": len(entry.recipe.steps),
        "storedAt": entry.stored_at,
        "expiresAt": entry.expires_at,
        "failedHeals": entry.failed_heals,
    }


async def _own(request: Request, key: str) -> CacheEntry:
    entry = await _store(request).get(key)
    if entry is None or entry.scope != current_key():
        raise RequestError(
            "NOT_FOUND", f"No cached recipe {key!r}: see GET /v2/cache for the keys you have."
        )
    return entry


@router.get("/cache")
async def list_cache(request: Request) -> dict[str, Any]:
    """The calling key's cached recipes."""
    mine = [e for e in await _store(request).entries() if e.scope == current_key()]
    return {"success": True, "data": [_summary(entry) for entry in mine]}


@router.get("/cache/{key}")
async def show_cache(request: Request, key: str) -> dict[str, Any]:
    """One cached recipe, with its steps."""
    entry = await _own(request, key)
    return {"success": True, "data": {**_summary(entry), "recipe": entry.recipe.to_dict()}}


@router.delete("/cache/{key}")
async def delete_cache(request: Request, key: str) -> dict[str, Any]:
    """Forget one cached recipe: the prompt is planned afresh next time."""
    await _own(request, key)
    await _store(request).delete(key)
    return {"success": True, "deleted": 1}


@router.delete("/cache")
async def clear_cache(request: Request) -> dict[str, Any]:
    """Forget every recipe the calling key's prompts recorded."""
    store = _store(request)
    mine = [e for e in await store.entries() if e.scope == current_key()]
    for entry in mine:
        await store.delete(entry.key)
    return {"success": True, "deleted": len(mine)}
