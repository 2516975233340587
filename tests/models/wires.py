"""What each recordable provider's wire looks like, as the wire suite (``test_wire.py``) expects.

One :class:`Wire` per provider, written literally: its endpoint and stop reasons, the tools as
its cassettes recorded them, the replies its fake server is scripted with, and what its requests
carry in each scenario of the suite. A new provider adds a ``Wire`` here and to :data:`WIRES`;
every scenario then runs for it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from agent.messages import ToolSpec, Usage
from evals.provider_server import (
    Reply,
    anthropic_error,
    anthropic_message,
    chat_completion,
    chat_error,
    chat_tool_call,
)
from tests.models.record_cassettes import ANTHROPIC_MODEL, OPENAI_MODEL, PAGE, SYSTEM

__all__ = ["WIRES", "AnthropicWire", "OpenAIWire", "Wire"]


class Wire(ABC):
    """What one provider's wire looks like, as the tests expect it."""

    provider: str
    model_name: str
    endpoint: str
    key_env: str
    stop_tool: str
    stop_text: str
    ids: tuple[str, str, str]
    """Tool call ids the scripts use."""
    click: ToolSpec
    fill: ToolSpec
    tool_result_turn: ClassVar[list[Any]]
    """What follows the task when one tool call and its result are sent back."""
    parallel_results_roles: ClassVar[list[str]]
    """The roles sent when two results (one an error) and a new page follow the task."""
    parallel_results_turn: ClassVar[list[Any]]
    """What follows the task then."""
    parallel_calls_roles: ClassVar[list[str]]
    """The roles sent when the results of two parallel calls follow the task."""

    @property
    def tools(self) -> list[ToolSpec]:
        return [self.click, self.fill]

    @abstractmethod
    def calls(self, *calls: tuple[str, str, dict[str, Any]]) -> Reply:
        """An answer calling ``(id, name, arguments)`` tools."""

    @abstractmethod
    def text(self, text: str) -> Reply:
        """A text answer."""

    @abstractmethod
    def after_task(self, body: dict[str, Any]) -> list[Any]:
        """The sent messages after the system prompt and the task."""

    @abstractmethod
    def check_first_request(self, body: dict[str, Any]) -> None:
        """Assert where the system prompt, tools and settings went in a first request."""

    @abstractmethod
    def usage_reply(self) -> Reply:
        """An answer whose usage includes cached tokens."""

    @abstractmethod
    def expected_usage(self, raw: dict[str, Any]) -> Usage:
        """What the recorded usage ``raw`` must become."""

    @abstractmethod
    def auth_error(self) -> Reply: ...

    @abstractmethod
    def rate_limited(self) -> Reply: ...

    @abstractmethod
    def overloaded(self) -> Reply:
        """A transient server error the provider sends when busy."""

    @abstractmethod
    def result_ids(self, messages: list[Any]) -> list[str]:
        """The call ids the sent tool results answer, in order."""


class OpenAIWire(Wire):
    provider = "openai"
    model_name = OPENAI_MODEL
    endpoint = "https://api.openai.com/v1/chat/completions"
    key_env = "OPENAI_API_KEY"
    stop_tool, stop_text = "tool_calls", "stop"
    ids = ("call_q1", "call_a", "call_b")
    click = ToolSpec(
        "click",
        "Click the element with the given snapshot ref.",
        {
            "type": "object",
            "properties": {"ref": {"type": "string", "description": "A ref such as e3."}},
            "required": ["ref"],
            "additionalProperties": False,
        },
    )
    fill = ToolSpec(
        "fill",
        "Replace the text of the input with the given snapshot ref.",
        {
            "type": "object",
            "properties": {"ref": {"type": "string"}, "text": {"type": "string"}},
            "required": ["ref", "text"],
            "additionalProperties": False,
        },
    )

    tool_result_turn: ClassVar[list[Any]] = [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_q1",
                    "type": "function",
                    "function": {"name": "click", "arguments": '{"ref": "e3"}'},
                }
            ],
        },
        {
            "role": "tool",
            "tool_call_id": "call_q1",
            "content": 'Clicked button "Search". 3 results.',
        },
    ]
    parallel_results_roles: ClassVar[list[str]] = [
        "system",
        "user",
        "assistant",
        "tool",
        "tool",
        "user",
    ]
    parallel_results_turn: ClassVar[list[Any]] = [
        {
            "role": "assistant",
            "content": "Doing both.",
            "tool_calls": [
                {
                    "id": "call_q1",
                    "type": "function",
                    "function": {"name": "fill", "arguments": '{"ref": "e2", "text": "cats"}'},
                },
                {
                    "id": "call_a",
                    "type": "function",
                    "function": {"name": "click", "arguments": '{"ref": "e9"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_q1", "content": "Filled."},
        {"role": "tool", "tool_call_id": "call_a", "content": "No element e9."},
        {"role": "user", "content": f"Current page:\n{PAGE}"},
    ]
    parallel_calls_roles: ClassVar[list[str]] = ["system", "user", "assistant", "tool", "tool"]

    def calls(self, *calls: tuple[str, str, dict[str, Any]]) -> Reply:
        return chat_completion(tool_calls=[chat_tool_call(*call) for call in calls])

    def text(self, text: str) -> Reply:
        return chat_completion(text=text)

    def after_task(self, body: dict[str, Any]) -> list[Any]:
        return list(body["messages"][2:])

    def check_first_request(self, body: dict[str, Any]) -> None:
        assert body["messages"][0] == {"role": "system", "content": SYSTEM.content}
        assert [m["role"] for m in body["messages"]] == ["system", "user"]
        assert body["tools"][0] == {
            "type": "function",
            "function": {
                "name": "click",
                "description": self.click.description,
                "parameters": self.click.parameters,
            },
        }
        assert body["max_completion_tokens"] == 256
        assert body["temperature"] == 0.0

    def usage_reply(self) -> Reply:
        return chat_completion(
            text="Two elements.", prompt_tokens=1536, completion_tokens=4, cached_tokens=1024
        )

    def expected_usage(self, raw: dict[str, Any]) -> Usage:
        cached = (raw.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
        return Usage(raw["prompt_tokens"], raw["completion_tokens"], cached)

    def auth_error(self) -> Reply:
        return chat_error(401, "Incorrect API key provided: invalid-*-key.", code="invalid_api_key")

    def rate_limited(self) -> Reply:
        return chat_error(429, "Rate limit reached for requests.", type="requests")

    def overloaded(self) -> Reply:
        return chat_error(503, "The server is overloaded or not ready yet.", type="server_error")

    def result_ids(self, messages: list[Any]) -> list[str]:
        return [m["tool_call_id"] for m in messages if m["role"] == "tool"]


class AnthropicWire(Wire):
    provider = "anthropic"
    model_name = ANTHROPIC_MODEL
    endpoint = "https://api.anthropic.com/v1/messages"
    key_env = "ANTHROPIC_API_KEY"
    stop_tool, stop_text = "tool_use", "end_turn"
    ids = ("toolu_01", "toolu_02", "toolu_03")
    click = ToolSpec(
        "click",
        "Click the element with the given snapshot ref.",
        {"type": "object", "properties": {"ref": {"type": "string"}}, "required": ["ref"]},
    )
    fill = ToolSpec(
        "fill",
        "Replace the text of the input with the given snapshot ref.",
        {
            "type": "object",
            "properties": {"ref": {"type": "string"}, "text": {"type": "string"}},
            "required": ["ref", "text"],
        },
    )

    tool_result_turn: ClassVar[list[Any]] = [
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "toolu_01", "name": "click", "input": {"ref": "e3"}}
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_01",
                    "content": 'Clicked button "Search". 3 results.',
                    "is_error": False,
                }
            ],
        },
    ]
    parallel_results_roles: ClassVar[list[str]] = ["user", "assistant", "user"]
    parallel_results_turn: ClassVar[list[Any]] = [
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Doing both."},
                {
                    "type": "tool_use",
                    "id": "toolu_01",
                    "name": "fill",
                    "input": {"ref": "e2", "text": "cats"},
                },
                {"type": "tool_use", "id": "toolu_02", "name": "click", "input": {"ref": "e9"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_01",
                    "content": "Filled.",
                    "is_error": False,
                },
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_02",
                    "content": "No element e9.",
                    "is_error": True,
                },
                {"type": "text", "text": f"Current page:\n{PAGE}"},
            ],
        },
    ]
    parallel_calls_roles: ClassVar[list[str]] = ["user", "assistant", "user"]

    def calls(self, *calls: tuple[str, str, dict[str, Any]]) -> Reply:
        return anthropic_message(tool_uses=list(calls))

    def text(self, text: str) -> Reply:
        return anthropic_message(text=text)

    def after_task(self, body: dict[str, Any]) -> list[Any]:
        return list(body["messages"][1:])

    def check_first_request(self, body: dict[str, Any]) -> None:
        assert body["system"] == SYSTEM.content
        assert [m["role"] for m in body["messages"]] == ["user"]
        assert body["tools"][0] == {
            "name": "click",
            "description": self.click.description,
            "input_schema": self.click.parameters,
        }
        assert body["max_tokens"] == 256
        assert "temperature" not in body  # API version 2026-10-21 rejects sampling parameters

    def usage_reply(self) -> Reply:
        return anthropic_message(
            text="Two elements.", input_tokens=300, output_tokens=5, cache_read_input_tokens=900
        )

    def expected_usage(self, raw: dict[str, Any]) -> Usage:
        cached = raw.get("cache_read_input_tokens") or 0
        written = raw.get("cache_creation_input_tokens") or 0
        return Usage(raw["input_tokens"] + cached + written, raw["output_tokens"], cached)

    def auth_error(self) -> Reply:
        return anthropic_error(401, "authentication_error", "invalid x-api-key")

    def rate_limited(self) -> Reply:
        return anthropic_error(429, "rate_limit_error", "Number of requests exceeded.")

    def overloaded(self) -> Reply:
        return anthropic_error(529, "overloaded_error", "Overloaded")

    def result_ids(self, messages: list[Any]) -> list[str]:
        blocks = [b for m in messages if m["role"] == "user" for b in m["content"]]
        return [b["tool_use_id"] for b in blocks if b["type"] == "tool_result"]


WIRES = [OpenAIWire(), AnthropicWire()]
