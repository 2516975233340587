"""Model backends behind one protocol, chosen by ``"provider:name"`` ids.

The providers are one table, :mod:`agent.models.providers`. The public names below are imported
on first use: ``OpenAIModel`` and ``AnthropicModel`` load SDKs that take seconds to import, and
the command line reads the provider table without loading any backend.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.models.anthropic import AnthropicModel
    from agent.models.base import check_model, create_model, model_keys
    from agent.models.demo import DemoModel
    from agent.models.openai import OpenAIModel
    from agent.models.protocol import Model, ModelBase, ModelRequest
    from agent.models.providers import (
        OLLAMA_BASE_URL,
        PROVIDER_SPECS,
        PROVIDERS,
        ModelOptions,
        ProviderSpec,
        parse_model_id,
        provider_spec,
    )
    from agent.models.retry import RetryPolicy
    from agent.models.scripted import (
        ScriptedModel,
        ScriptedRequest,
        ScriptedTurn,
        ScriptPolicy,
        ScriptStep,
        tool_call,
    )

__all__ = [
    "OLLAMA_BASE_URL",
    "PROVIDERS",
    "PROVIDER_SPECS",
    "AnthropicModel",
    "DemoModel",
    "Model",
    "ModelBase",
    "ModelOptions",
    "ModelRequest",
    "OpenAIModel",
    "ProviderSpec",
    "RetryPolicy",
    "ScriptPolicy",
    "ScriptStep",
    "ScriptedModel",
    "ScriptedRequest",
    "ScriptedTurn",
    "check_model",
    "create_model",
    "model_keys",
    "parse_model_id",
    "provider_spec",
    "tool_call",
]

_HOME = {
    "AnthropicModel": "agent.models.anthropic",
    "DemoModel": "agent.models.demo",
    "OpenAIModel": "agent.models.openai",
    "RetryPolicy": "agent.models.retry",
    **dict.fromkeys(("check_model", "create_model", "model_keys"), "agent.models.base"),
    **dict.fromkeys(("Model", "ModelBase", "ModelRequest"), "agent.models.protocol"),
    **dict.fromkeys(
        (
            "OLLAMA_BASE_URL",
            "PROVIDERS",
            "PROVIDER_SPECS",
            "ModelOptions",
            "ProviderSpec",
            "parse_model_id",
            "provider_spec",
        ),
        "agent.models.providers",
    ),
    **dict.fromkeys(
        (
            "ScriptPolicy",
            "ScriptStep",
            "ScriptedModel",
            "ScriptedRequest",
            "ScriptedTurn",
            "tool_call",
        ),
        "agent.models.scripted",
    ),
}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
