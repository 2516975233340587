"""A self-hostable LLM browser agent: scrape a page into Chromium, then interact with it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent.errors import AgentError, ConfigError, StaleRefError, ToolError
from agent.session import BrowserSession
from agent.snapshot import Snapshot

if TYPE_CHECKING:
    from agent.api import Agent
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

# Imported on first use: the planner imports ``tools``, which imports ``agent.errors``, so an
# eager import here would be circular whenever ``tools`` is imported first.
_LAZY = {
    "Agent": "agent.api",
    "InteractionResult": "agent.results",
    "Step": "agent.results",
    "run_prompt": "agent.loop",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
