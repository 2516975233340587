"""A self-hostable LLM browser agent: scrape a page into Chromium, then interact with it."""

from __future__ import annotations

from agent.errors import AgentError, ConfigError, StaleRefError, ToolError
from agent.session import BrowserSession
from agent.snapshot import Snapshot

__all__ = ["AgentError", "BrowserSession", "ConfigError", "Snapshot", "StaleRefError", "ToolError"]
