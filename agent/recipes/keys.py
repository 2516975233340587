"""The prompt cache's key, and the redaction of secrets typed from the prompt.

A key is the normalized prompt (case and spacing folded) with the page's origin and path: the
same words on the same page find the same recipe, whatever the query string or fragment. With a
redaction pattern, what it matches in the prompt is taken out of the key and out of the stored
values, and put back from the new prompt's text at replay.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from agent.recipes.model import Recipe

__all__ = ["CacheKey", "cache_key", "fill_secrets", "redact_recipe"]

_PLACEHOLDER = "{{secret:%d}}"
_PLACEHOLDER_RE = re.compile(r"\{\{secret:(\d+)\}\}")


@dataclass(frozen=True)
class CacheKey:
    """Where a recipe is stored, what it was stored for, and the secrets of this prompt."""

    key: str
    prompt: str  # normalized, secrets replaced
    origin: str
    path: str
    secrets: tuple[str, ...] = ()
    scope: str = ""


def cache_key(
    prompt: str, url: str, redact: re.Pattern[str] | None = None, *, scope: str = ""
) -> CacheKey:
    """The key of ``prompt`` on the page at ``url`` for the caller ``scope`` (a server's API key
    name): one caller's recipes, and the values they type, are never replayed for another."""
    secrets: tuple[str, ...] = ()
    text = prompt
    if redact is not None:
        secrets = tuple(m.group(0) for m in redact.finditer(prompt) if m.group(0))
        for index, secret in enumerate(secrets):
            text = text.replace(secret, _PLACEHOLDER % index)
    normalized = " ".join(text.casefold().split())
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}" if parts.netloc else parts.scheme
    path = parts.path or "/"
    text = "\n".join((scope, normalized, origin, path))
    digest = hashlib.sha256(text.encode()).hexdigest()[:32]
    return CacheKey(digest, normalized, origin, path, secrets, scope)


def _swap(value: object, change: object) -> object:
    if isinstance(value, str):
        return change(value)  # type: ignore[operator]
    if isinstance(value, list):
        return [_swap(item, change) for item in value]
    return value


def redact_recipe(recipe: Recipe, secrets: tuple[str, ...]) -> Recipe:
    """The recipe with every typed secret replaced by its placeholder, as it is stored."""
    if not secrets:
        return recipe

    def hide(text: str) -> str:
        for index, secret in enumerate(secrets):
            text = text.replace(secret, _PLACEHOLDER % index)
        return text

    steps = tuple(
        replace(step, arguments={k: _swap(v, hide) for k, v in step.arguments.items()})
        for step in recipe.steps
    )
    return replace(recipe, steps=steps, answer=hide(recipe.answer))


def fill_secrets(recipe: Recipe, secrets: tuple[str, ...]) -> Recipe | None:
    """The stored recipe with this prompt's secrets put back; None when it asks for one the
    prompt does not hold."""
    missing = False

    def show(text: str) -> str:
        nonlocal missing

        def one(match: re.Match[str]) -> str:
            nonlocal missing
            index = int(match.group(1))
            if index >= len(secrets):
                missing = True
                return match.group(0)
            return secrets[index]

        return _PLACEHOLDER_RE.sub(one, text)

    steps = tuple(
        replace(step, arguments={k: _swap(v, show) for k, v in step.arguments.items()})
        for step in recipe.steps
    )
    filled = replace(recipe, steps=steps, answer=show(recipe.answer))
    return None if missing else filled
