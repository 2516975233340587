"""Model backends behind one protocol, chosen by ``"provider:name"`` ids.

``OpenAIModel`` and ``AnthropicModel`` are imported on first use: their SDKs take seconds to
import, and most programs need only one of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent.models.base import (
    OLLAMA_BASE_URL,
    PROVIDERS,
    Model,
    check_model,
    create_model,
    parse_model_id,
)
from agent.models.demo import DemoModel
from agent.models.retry import RetryPolicy
from agent.models.scripted import (
    ScriptedModel,
    ScriptedRequest,
    ScriptedTurn,
    ScriptPolicy,
    ScriptStep,
    tool_call,
)

if TYPE_CHECKING:
    from agent.models.anthropic import AnthropicModel
    from agent.models.openai import OpenAIModel

__all__ = [
    "OLLAMA_BASE_URL",
    "PROVIDERS",
    "AnthropicModel",
    "DemoModel",
    "Model",
    "OpenAIModel",
    "RetryPolicy",
    "ScriptPolicy",
    "ScriptStep",
    "ScriptedModel",
    "ScriptedRequest",
    "ScriptedTurn",
    "check_model",
    "create_model",
    "parse_model_id",
    "tool_call",
]


def __getattr__(name: str) -> Any:
    if name == "OpenAIModel":
        from agent.models.openai import OpenAIModel

        return OpenAIModel
    if name == "AnthropicModel":
        from agent.models.anthropic import AnthropicModel

        return AnthropicModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
