"""A self-hostable LLM browser agent: scrape a page into Chromium, then interact with it.

The public names below are imported on first use, so ``import agent.errors`` (which every layer
does) does not start Playwright, the model SDKs or the planner.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.api import Agent
    from agent.browser.session import BrowserSession
    from agent.browser.snapshot import Snapshot
    from agent.errors import AgentError, ConfigError, StaleRefError, ToolError
    from agent.loop import run_prompt
    from agent.results import InteractionResult, Step

__all__ = [
    "Agent",
    "AgentError",
    "BrowserSession",
    "ConfigError",
    "InteractionResult",
    "Snapshot",
    "StaleRefError",
    "Step",
    "ToolError",
    "run_prompt",
]

_HOME = {
    "Agent": "agent.api",
    "AgentError": "agent.errors",
    "BrowserSession": "agent.browser.session",
    "ConfigError": "agent.errors",
    "InteractionResult": "agent.results",
    "Snapshot": "agent.browser.snapshot",
    "StaleRefError": "agent.errors",
    "Step": "agent.results",
    "ToolError": "agent.errors",
    "run_prompt": "agent.loop",
}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
