"""A Firecrawl v2-compatible HTTP server: scrape a page into Chromium, interact, stop.

``create_app()`` builds the FastAPI app; ``agent serve`` runs it with uvicorn. Firecrawl's own
SDKs work against it when pointed at its URL (``Firecrawl(api_url="http://127.0.0.1:3002")``).
It is a face over the session service (``agent.service``); the service's public names are
re-exported here, where users have imported them from.
"""

from __future__ import annotations

from agent.server.app import create_app
from agent.server.errors import status_of
from agent.service import (
    ProfileStore,
    ServerSession,
    ServerSettings,
    SessionFactory,
    SessionRegistry,
    build_state,
)

__all__ = [
    "ProfileStore",
    "ServerSession",
    "ServerSettings",
    "SessionFactory",
    "SessionRegistry",
    "build_state",
    "create_app",
    "status_of",
]
