"""Every name a package lists in ``__all__`` exists (as in httpx's test_exported_members.py)."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = [
    "agent",
    "agent.browser",
    "agent.cli",
    "agent.models",
    "agent.executors",
    "agent.mcp",
    "agent.observability",
    "agent.server",
    "agent.service",
    "tools",
    "prompts",
]


@pytest.mark.parametrize("package", PACKAGES)
def test_all_names_exist(package: str) -> None:
    module = importlib.import_module(package)
    names = module.__all__
    assert len(names) == len(set(names)), f"{package}.__all__ lists a name twice"
    missing = [name for name in names if not hasattr(module, name)]
    assert not missing, f"{package}.__all__ names what it does not define: {missing}"
