"""Recipes: what a successful prompt run did, described so that it can be done again without
the model, as a script, and from the prompt cache."""

from __future__ import annotations

from agent.recipes.keys import CacheKey, cache_key
from agent.recipes.model import Recipe, RecipeStep
from agent.recipes.recorder import RecipeRecorder
from agent.recipes.replay import Replay, replay_recipe
from agent.recipes.script import render_bash
from agent.recipes.store import (
    CacheEntry,
    RecipeStore,
    RedisRecipeStore,
    SqliteRecipeStore,
    heal_failed,
    open_recipe_store,
)

__all__ = [
    "CacheEntry",
    "CacheKey",
    "Recipe",
    "RecipeRecorder",
    "RecipeStep",
    "RecipeStore",
    "RedisRecipeStore",
    "Replay",
    "SqliteRecipeStore",
    "cache_key",
    "heal_failed",
    "open_recipe_store",
    "render_bash",
    "replay_recipe",
]
