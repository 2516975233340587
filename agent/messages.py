"""Provider-neutral conversation messages.

Every model backend translates to and from these types; nothing outside ``agent/models/`` knows
a provider's wire format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from tools.base import ToolSpec

if TYPE_CHECKING:
    from agent.config import Settings

__all__ = [
    "AssistantMessage",
    "Message",
    "ModelResponse",
    "ModelSettings",
    "SystemMessage",
    "ToolCall",
    "ToolResult",
    "ToolResultMessage",
    "ToolSpec",
    "Usage",
    "UserMessage",
]


@dataclass(frozen=True)
class ToolCall:
    """One tool call the model asked for.

    ``arguments_error`` is set (and ``arguments`` empty) when the model sent arguments that are
    not a JSON object; the loop returns that to the model instead of running the tool.
    """

    id: str
    name: str
    arguments: dict[str, Any]
    arguments_error: str | None = None


@dataclass(frozen=True)
class ToolResult:
    """What running one tool call produced, as text for the model."""

    call_id: str
    name: str
    content: str
    is_error: bool = False


@dataclass(frozen=True)
class Usage:
    """Token counts of one or more model requests."""

    input: int = 0
    output: int = 0
    cached: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input + other.input, self.output + other.output, self.cached + other.cached
        )


@dataclass(frozen=True)
class SystemMessage:
    content: str
    role: Literal["system"] = "system"


@dataclass(frozen=True)
class UserMessage:
    content: str
    role: Literal["user"] = "user"


@dataclass(frozen=True)
class AssistantMessage:
    text: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    role: Literal["assistant"] = "assistant"


@dataclass(frozen=True)
class ToolResultMessage:
    """The results of every tool call of the preceding assistant message, in call order."""

    results: tuple[ToolResult, ...]
    role: Literal["tool"] = "tool"


Message = SystemMessage | UserMessage | AssistantMessage | ToolResultMessage


@dataclass(frozen=True)
class ModelSettings:
    """Per-request knobs every backend understands."""

    temperature: float | None = 0.0
    max_output_tokens: int = 2048
    timeout_s: float = 60.0

    @classmethod
    def from_settings(cls, settings: Settings) -> ModelSettings:
        """The per-request knobs the agent's settings imply."""
        return cls(temperature=settings.temperature, timeout_s=settings.model_timeout)


@dataclass(frozen=True)
class ModelResponse:
    """One answer of the model: text, tool calls, or both."""

    text: str | None
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage = field(default_factory=Usage)
    model: str = ""
    stop_reason: str = ""
