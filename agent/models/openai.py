"""OpenAI Chat Completions backend; also serves openai-compatible servers and Ollama."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import openai
from openai import AsyncOpenAI, omit
from openai.types.chat import (
    ChatCompletion,
    ChatCompletionAssistantMessageParam,
    ChatCompletionFunctionToolParam,
    ChatCompletionMessageFunctionToolCall,
    ChatCompletionMessageFunctionToolCallParam,
    ChatCompletionMessageParam,
)

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

__all__ = [
    "OpenAIModel",
    "from_openai_completion",
    "parse_arguments",
    "to_openai_messages",
    "to_openai_tools",
]


class OpenAIModel(SdkModel[AsyncOpenAI, ChatCompletion]):
    """A model behind the OpenAI Chat Completions API, with tool calling: OpenAI's, or a
    compatible server's (``provider="openai-compatible"`` or ``"ollama"``, with ``base_url``).
    Arguments as for :class:`~agent.models.sdk.SdkModel`."""

    sdk_client = AsyncOpenAI
    default_provider = "openai"
    sdk_errors = SdkErrors(
        status=openai.APIStatusError,
        timeout=openai.APITimeoutError,
        connection=openai.APIConnectionError,
    )

    async def send(self, request: ModelRequest) -> ChatCompletion:
        """One Chat Completions request."""
        settings = request.settings
        wire_tools = to_openai_tools(request.tools)
        temperature = settings.temperature
        # OpenAI deprecated max_tokens; compatible servers mostly know only max_tokens.
        is_openai = self.provider == "openai"
        return await self.client.chat.completions.create(
            model=self.model_name,
            messages=to_openai_messages(request.messages),
            tools=wire_tools if wire_tools else omit,
            temperature=temperature if temperature is not None else omit,
            max_completion_tokens=settings.max_output_tokens if is_openai else omit,
            max_tokens=omit if is_openai else settings.max_output_tokens,
            timeout=settings.timeout_s,
        )

    def parse(self, answer: ChatCompletion) -> ModelResponse:
        return from_openai_completion(answer, provider=self.provider)


def to_openai_tools(tools: Sequence[ToolSpec]) -> list[ChatCompletionFunctionToolParam]:
    """Tool specs as Chat Completions ``function`` tools."""
    return [
        {
            "type": "function",
            "function": {
                "name": tool.name,
                "description": tool.description,
                "parameters": tool.parameters,
            },
        }
        for tool in tools
    ]


def to_openai_messages(messages: Sequence[Message]) -> list[ChatCompletionMessageParam]:
    """Neutral messages as Chat Completions messages; one ``tool`` message per tool result."""
    out: list[ChatCompletionMessageParam] = []
    for message in messages:
        if isinstance(message, SystemMessage):
            out.append({"role": "system", "content": message.content})
        elif isinstance(message, UserMessage):
            out.append({"role": "user", "content": message.content})
        elif isinstance(message, AssistantMessage):
            out.append(_assistant(message))
        elif isinstance(message, ToolResultMessage):
            out.extend(
                {"role": "tool", "tool_call_id": result.call_id, "content": result.content}
                for result in message.results
            )
    return out


def _assistant(message: AssistantMessage) -> ChatCompletionAssistantMessageParam:
    wire: ChatCompletionAssistantMessageParam = {"role": "assistant", "content": message.text}
    if message.tool_calls:
        calls: list[ChatCompletionMessageFunctionToolCallParam] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
            }
            for call in message.tool_calls
        ]
        wire["tool_calls"] = calls
    return wire


def from_openai_completion(
    completion: ChatCompletion, *, provider: str = "openai"
) -> ModelResponse:
    """Translate a Chat Completions answer; bad tool arguments become ``arguments_error``.

    Raises:
        ModelResponseError: the body is not a usable Chat Completion.
    """
    try:
        return _parse_completion(completion)
    except (AttributeError, TypeError, IndexError, KeyError, ValueError) as exc:
        raise ModelResponseError(
            f"{provider} answered with a body that is not a Chat Completion ({exc}). Check "
            "that the base URL (AGENT_BASE_URL) is an OpenAI-compatible API root, often ending "
            "in /v1, and that the model supports chat with tool calling.",
            provider=provider,
        ) from exc


def _parse_completion(completion: ChatCompletion) -> ModelResponse:
    if not completion.choices:
        raise ValueError("no choices")
    choice = completion.choices[0]
    message = choice.message
    calls: list[ToolCall] = []
    for index, raw in enumerate(message.tool_calls or ()):
        if not isinstance(raw, ChatCompletionMessageFunctionToolCall):
            continue  # only function tools are ever offered
        arguments, error = parse_arguments(raw.function.arguments)
        calls.append(
            ToolCall(
                id=raw.id or f"call_{index}",
                name=raw.function.name,
                arguments=arguments,
                arguments_error=error,
            )
        )
    return ModelResponse(
        text=message.content if message.content is not None else message.refusal,
        tool_calls=tuple(calls),
        usage=_usage(completion),
        model=completion.model or "",
        stop_reason=choice.finish_reason or "",
    )


def _usage(completion: ChatCompletion) -> Usage:
    usage = completion.usage
    if usage is None:
        return Usage()
    details = usage.prompt_tokens_details
    cached = details.cached_tokens if details is not None and details.cached_tokens else 0
    return Usage(input=usage.prompt_tokens or 0, output=usage.completion_tokens or 0, cached=cached)


def parse_arguments(raw: str | None) -> tuple[dict[str, Any], str | None]:
    """Parse a tool call's JSON arguments; never raises.

    Returns:
        ``(arguments, None)`` on success, else ``({}, what was wrong)``. Empty input is ``{}``.
    """
    if raw is None or not raw.strip():
        return {}, None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        return {}, (
            f"the arguments are not valid JSON ({exc.msg} at character {exc.pos}): "
            f"{_clip(raw)}; send one JSON object matching the tool's parameters"
        )
    if not isinstance(value, dict):
        return {}, (
            f"the arguments must be a JSON object, not {type(value).__name__}: {_clip(raw)}; "
            "send one JSON object matching the tool's parameters"
        )
    return value, None


def _clip(text: str, limit: int = 200) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")
