"""Anthropic Messages API backend with tool use.

The 2.x SDK sends API version 2026-10-21, which rejects sampling parameters, so
``ModelSettings.temperature`` is not sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import anthropic
from anthropic import AsyncAnthropic, omit
from anthropic.types import (
    AssistantMessageParam,
    ContentBlockParam,
    MessageParam,
    TextBlock,
    ToolParam,
    ToolResultBlockParam,
    ToolUseBlock,
    UserMessageParam,
)
from anthropic.types import Message as AnthropicMessage

from agent.errors import ModelResponseError
from agent.messages import (
    AssistantMessage,
    Message,
    ModelResponse,
    SystemMessage,
    ToolCall,
    ToolResultMessage,
    ToolSpec,
    Usage,
    UserMessage,
)
from agent.models.protocol import ModelRequest
from agent.models.retry import SdkErrors
from agent.models.sdk import SdkModel

__all__ = ["AnthropicModel", "from_anthropic_message", "to_anthropic_request", "to_anthropic_tools"]


class AnthropicModel(SdkModel[AsyncAnthropic, AnthropicMessage]):
    """A Claude model behind the Anthropic Messages API, with tool use (529 overloaded is
    retried like any 5xx). Arguments as for :class:`~agent.models.sdk.SdkModel`; ``base_url``
    None is the SDK's default, ``https://api.anthropic.com``."""

    sdk_client = AsyncAnthropic
    default_provider = "anthropic"
    sdk_errors = SdkErrors(
        status=anthropic.APIStatusError,
        timeout=anthropic.APITimeoutError,
        connection=anthropic.APIConnectionError,
    )

    async def send(self, request: ModelRequest) -> AnthropicMessage:
        """One Messages request."""
        system, wire_messages = to_anthropic_request(request.messages)
        wire_tools = to_anthropic_tools(request.tools)
        return await self.client.messages.create(
            model=self.model_name,
            max_tokens=request.settings.max_output_tokens,
            system=system if system else omit,
            messages=wire_messages,
            tools=wire_tools if wire_tools else omit,
            timeout=request.settings.timeout_s,
        )

    def parse(self, answer: AnthropicMessage) -> ModelResponse:
        return from_anthropic_message(answer)


def to_anthropic_tools(tools: Sequence[ToolSpec]) -> list[ToolParam]:
    """Tool specs as Anthropic tools (``input_schema``)."""
    return [
        {"name": tool.name, "description": tool.description, "input_schema": tool.parameters}
        for tool in tools
    ]


def to_anthropic_request(messages: Sequence[Message]) -> tuple[str, list[MessageParam]]:
    """Split off the system prompt and translate the rest into alternating-role messages.

    Tool results become a user message of ``tool_result`` blocks, and consecutive messages of
    one role are merged, since the API requires user and assistant turns to alternate.
    """
    system: list[str] = []
    turns: list[tuple[Literal["user", "assistant"], list[ContentBlockParam]]] = []

    def add(role: Literal["user", "assistant"], blocks: list[ContentBlockParam]) -> None:
        if not blocks:
            return
        if turns and turns[-1][0] == role:
            turns[-1][1].extend(blocks)
        else:
            turns.append((role, blocks))

    for message in messages:
        if isinstance(message, SystemMessage):
            system.append(message.content)
        elif isinstance(message, UserMessage):
            add("user", [{"type": "text", "text": message.content}] if message.content else [])
        elif isinstance(message, AssistantMessage):
            blocks: list[ContentBlockParam] = []
            if message.text:
                blocks.append({"type": "text", "text": message.text})
            blocks.extend(
                {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}
                for call in message.tool_calls
            )
            add("assistant", blocks)
        elif isinstance(message, ToolResultMessage):
            add(
                "user",
                [
                    _tool_result(result.call_id, result.content, result.is_error)
                    for result in message.results
                ],
            )
    wire: list[MessageParam] = []
    for role, blocks in turns:
        if role == "user":
            user: UserMessageParam = {"role": "user", "content": blocks}
            wire.append(user)
        else:
            assistant: AssistantMessageParam = {"role": "assistant", "content": blocks}
            wire.append(assistant)
    return "\n\n".join(system), wire


def _tool_result(call_id: str, content: str, is_error: bool) -> ToolResultBlockParam:
    return {"type": "tool_result", "tool_use_id": call_id, "content": content, "is_error": is_error}


def from_anthropic_message(answer: AnthropicMessage) -> ModelResponse:
    """Translate a Messages answer: text blocks joined, ``tool_use`` blocks as tool calls.

    Raises:
        ModelResponseError: the body is not a usable Messages answer.
    """
    try:
        return _parse_message(answer)
    except (AttributeError, TypeError, KeyError, ValueError) as exc:
        raise ModelResponseError(
            f"anthropic answered with a body that is not a Messages answer ({exc}). Check that "
            "AGENT_BASE_URL, if set, is the Anthropic API root (without /v1).",
            provider="anthropic",
        ) from exc


def _parse_message(answer: AnthropicMessage) -> ModelResponse:
    texts: list[str] = []
    calls: list[ToolCall] = []
    for block in answer.content:
        if isinstance(block, TextBlock):
            texts.append(block.text)
        elif isinstance(block, ToolUseBlock):
            if isinstance(block.input, dict):
                calls.append(ToolCall(id=block.id, name=block.name, arguments=dict(block.input)))
            else:
                calls.append(
                    ToolCall(
                        id=block.id,
                        name=block.name,
                        arguments={},
                        arguments_error="the tool input must be a JSON object",
                    )
                )
    return ModelResponse(
        text="".join(texts) if texts else None,
        tool_calls=tuple(calls),
        usage=_usage(answer),
        model=str(answer.model or ""),
        stop_reason=str(answer.stop_reason or ""),
    )


def _usage(answer: AnthropicMessage) -> Usage:
    usage = answer.usage
    if usage is None:
        return Usage()
    cached = usage.cache_read_input_tokens or 0
    # Anthropic's input_tokens excludes cache reads and writes; Usage.input counts every prompt
    # token (as OpenAI's prompt_tokens does), with the cached part repeated in Usage.cached.
    total_input = (usage.input_tokens or 0) + cached + (usage.cache_creation_input_tokens or 0)
    return Usage(input=total_input, output=usage.output_tokens or 0, cached=cached)
