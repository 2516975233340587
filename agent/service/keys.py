"""API keys with names, which one a request carries, and what each name may spend.

``AGENT_API_KEYS=ci:KEY1,alice:KEY2`` (or TOML ``api_keys = ["ci:KEY1"]``) names each key; the
name is what logs, metrics and usage show, never the key. A key given without a name
(``AGENT_API_KEYS=KEY1``) works as before and is named ``key-`` plus a short hash of it. An entry
is read as ``name:key`` when the part before its first ``:`` is a name (letters, digits, ``_``,
``.``, ``-``; up to 64); a key that itself holds a ``:`` must therefore be given a name.

A budget (``[server.key_budgets]``: ``tiny = { credits = 1000, tokens = 200000 }``) caps what a
key name spends per calendar month (UTC).

Both HTTP faces (the Firecrawl routes and MCP over HTTP) let a request in by
:func:`key_of_request`, so they refuse the same requests with the same words.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from agent.errors import ConfigError, RequestError

__all__ = [
    "ANONYMOUS",
    "ApiKey",
    "KeyBudget",
    "key_of_request",
    "match_key",
    "parse_api_keys",
    "unnamed_key_name",
]

ANONYMOUS = "anonymous"
"""The name usage is counted under when the server has no keys (any request is let in)."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class ApiKey:
    """One accepted key and the name it is known by."""

    name: str
    value: bytes

    def __repr__(self) -> str:  # never the key, wherever this ends up printed
        return f"ApiKey(name={self.name!r})"


class KeyBudget(BaseModel):
    """What one key name may spend per calendar month; None: no cap."""

    model_config = ConfigDict(extra="forbid")

    credits: int | None = Field(default=None, ge=0)
    tokens: int | None = Field(default=None, ge=0)


def unnamed_key_name(value: str) -> str:
    """The name of a key given without one: ``key-`` and 8 hex digits of its SHA-256."""
    return "key-" + hashlib.sha256(value.encode()).hexdigest()[:8]


def parse_api_keys(entries: Sequence[SecretStr]) -> list[ApiKey]:
    """The keys of ``AGENT_API_KEYS`` entries, ``name:key`` or a bare key.

    Raises:
        ConfigError: two keys share a name, or an entry names a key but gives none.
    """
    keys: list[ApiKey] = []
    for entry in entries:
        text = entry.get_secret_value().strip()
        name, sep, value = text.partition(":")
        if sep and _NAME.match(name):
            if not value.strip():
                raise ConfigError(
                    f"AGENT_API_KEYS: the key named {name!r} is empty; write it as name:KEY."
                )
            keys.append(ApiKey(name, value.strip().encode()))
        else:
            keys.append(ApiKey(unnamed_key_name(text), text.encode()))
    names = [key.name for key in keys]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ConfigError(
            f"AGENT_API_KEYS: the name(s) {', '.join(twice)} are given to more than one key "
            "(or a key is listed twice); give each key a name of its own."
        )
    return keys


def match_key(presented: bytes, keys: Sequence[ApiKey]) -> ApiKey | None:
    """The key ``presented`` is, compared in constant time against every key (so timing does
    not tell which one was close); None when it is none of them."""
    found: ApiKey | None = None
    for key in keys:
        if hmac.compare_digest(presented, key.value):
            found = key
    return found


def key_of_request(keys: Sequence[ApiKey], authorization: str) -> str:
    """The name of the key a request's ``Authorization`` header carries: ``anonymous`` when no
    keys are configured (any header, or none, passes), else one of ``keys`` as a bearer token.

    Raises:
        RequestError: UNAUTHORIZED when keys are configured and the header carries none of them.
    """
    if not keys:
        return ANONYMOUS  # an open server: no header, an empty "Bearer " and any token all pass
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise RequestError(
            "UNAUTHORIZED",
            "Unauthorized: this server requires an API key. Send it as "
            "'Authorization: Bearer <key>' (Firecrawl SDKs: api_key=...).",
        )
    key = match_key(token.encode(), keys)
    if key is None:
        raise RequestError(
            "UNAUTHORIZED",
            "Unauthorized: the API key is not valid for this server. Check AGENT_API_KEYS.",
        )
    return key.name
