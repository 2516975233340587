"""The session service both faces share: the HTTP server (``agent.server``) and the MCP server
(``agent.mcp``) are thin faces over it, and neither imports the other.

It owns what a session is and does: opening one (with the address policy applied), the session
table and lifetimes (``registry``), replica coordination (``replicas``), the session store,
spare browsers, profiles, scrapes taking turns, scraping a page and running its actions,
interact calls by prompt or code, API keys, usage and budgets, and the metrics they count.
:func:`build_state` puts one server's together.
"""

from __future__ import annotations

from agent.service.browsers import SessionFactory
from agent.service.interact import InteractOutcome, run_interact
from agent.service.profiles import ProfileStore
from agent.service.registry import ServerSession, SessionRegistry
from agent.service.schemas import InteractRequest, ScrapeRequest
from agent.service.scrape import scrape_into_new_session
from agent.service.settings import ServerSettings
from agent.service.state import ServerState, build_state

__all__ = [
    "InteractOutcome",
    "InteractRequest",
    "ProfileStore",
    "ScrapeRequest",
    "ServerSession",
    "ServerSettings",
    "ServerState",
    "SessionFactory",
    "SessionRegistry",
    "build_state",
    "run_interact",
    "scrape_into_new_session",
]
