"""The request being served, for every log line and span made while it is: its id, the name of
the key it came with, the session it is about, and how it went.

Held in a context variable, so everything the request runs (and every task it starts) sees it,
and nothing is shared between requests, apps or tests. The HTTP face sets it for each request
(``begin_request``); code below the faces only reads it or adds what it learns (``note_session``).
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "REQUEST_ID_HEADER",
    "RequestInfo",
    "begin_request",
    "current_request",
    "end_request",
    "new_request_id",
    "note_key",
    "note_session",
    "sane_request_id",
]

REQUEST_ID_HEADER = "x-request-id"
"""The header a request's id is taken from, echoed on and carried to another replica in."""

_SANE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")
"""What a client's own request id may look like: a token of up to 128 characters that cannot
break a log line or a header (no spaces, quotes or control characters)."""


@dataclass
class RequestInfo:
    """One request as its log lines and spans describe it."""

    request_id: str
    method: str = ""
    scope: Mapping[str, Any] | None = None
    """The ASGI scope: the router writes the matched route into it, read by ``route``."""
    key_name: str | None = None
    """The name of the API key the request came with (never the key)."""
    session_id: str | None = None
    status: int | None = None
    started: float = field(default_factory=time.perf_counter)
    route_hint: str | None = None
    """The route's template as known before routing (a request forwarded to another replica
    never reaches a route here)."""
    ended: bool = False
    """Set once the request is answered: a task it started that lives on (a browser's DevTools
    server, a spare browser's launch) still holds this context, but no longer speaks for it."""

    @property
    def route(self) -> str | None:
        """The template of the route that answers the request (``/v2/scrape/{scrape_id}/
        interact``), never the path itself: ids and query strings stay out; None when no route
        matched (yet)."""
        if self.scope is None:
            return self.route_hint
        path = getattr(self.scope.get("route"), "path", None)
        if path is None and "endpoint" in self.scope and self.route_hint is None:
            # A plain Starlette route (MCP's /mcp): FastAPI's router names only its own routes
            # in the scope, so the route is found by its endpoint, once.
            endpoint = self.scope["endpoint"]
            routes = getattr(self.scope.get("app"), "routes", ())
            found = next((r for r in routes if getattr(r, "endpoint", None) is endpoint), None)
            self.route_hint = getattr(found, "path", None)
        return str(path) if path is not None else self.route_hint

    def duration_ms(self) -> float:
        return round((time.perf_counter() - self.started) * 1000, 3)


_current: ContextVar[RequestInfo | None] = ContextVar("agent_request", default=None)


def current_request() -> RequestInfo | None:
    """The request being served in this context, if any (and not yet answered)."""
    info = _current.get()
    return None if info is None or info.ended else info


def begin_request(info: RequestInfo) -> Token[RequestInfo | None]:
    """Make ``info`` the current request; ``end_request`` with the token when it is answered."""
    return _current.set(info)


def end_request(token: Token[RequestInfo | None]) -> None:
    """The request is answered: no context speaks for it any more, tasks it started included."""
    info = _current.get()
    if info is not None:
        info.ended = True
    _current.reset(token)


def note_session(session_id: str) -> None:
    """Say which session the current request is about (once known: a scrape makes one)."""
    info = current_request()
    if info is not None:
        info.session_id = session_id


def note_key(name: str) -> None:
    """Say which API key (by name) the current request came with."""
    info = current_request()
    if info is not None:
        info.key_name = name


def new_request_id() -> str:
    return secrets.token_hex(12)


def sane_request_id(value: str | None) -> str | None:
    """``value`` when it is a token fit for a log line and a header, else None."""
    if value and _SANE_ID.match(value):
        return value
    return None
