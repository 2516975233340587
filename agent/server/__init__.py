"""A Firecrawl v2-compatible HTTP server: scrape a page into Chromium, interact, stop.

``create_app()`` builds the FastAPI app; ``agent serve`` runs it with uvicorn. Firecrawl's own
SDKs work against it when pointed at its URL (``Firecrawl(api_url="http://127.0.0.1:3002")``).
"""

from __future__ import annotations

from agent.server.app import build_state, create_app
from agent.server.errors import status_of
from agent.server.profiles import ProfileStore
from agent.server.registry import ServerSession, SessionFactory, SessionRegistry
from agent.server.settings import ServerSettings

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
