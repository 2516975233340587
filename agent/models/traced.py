"""Every model request as the OpenTelemetry GenAI conventions describe it: a ``chat {model}``
span with the ``gen_ai.*`` attributes, and the token and duration figures of the app serving
it (``gen_ai_client_token_usage``, ``gen_ai_client_operation_duration_seconds``).

The planner and the json/summary formats call :func:`request_model` instead of
``model.request``, so each request is counted once, whichever backend answers it. What was said
(messages, answers) goes into the span only when
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from agent.messages import (
    AssistantMessage,
    Message,
    ModelResponse,
    ModelSettings,
    SystemMessage,
    ToolResultMessage,
    ToolSpec,
    UserMessage,
)
from agent.observability import ModelCall, current_telemetry

if TYPE_CHECKING:
    from agent.models.base import Model

__all__ = ["provider_and_name", "request_model"]

CHAT = "chat"


def provider_and_name(model_id: str) -> tuple[str, str]:
    """``("openai", "gpt-4.1-mini")`` for ``openai:gpt-4.1-mini``; a bare id is both."""
    provider, sep, name = model_id.partition(":")
    return (provider, name) if sep and name else (model_id, model_id)


async def request_model(
    model: Model,
    messages: Sequence[Message],
    *,
    tools: Sequence[ToolSpec],
    settings: ModelSettings,
    purpose: str = "prompt",
) -> ModelResponse:
    """``model.request(...)`` in a ``chat {model}`` span, counted by the app serving it.

    ``purpose`` (``prompt``, ``json``, ``summary``) is noted on the span.
    """
    telemetry = current_telemetry()
    provider, name = provider_and_name(model.model_id)
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": CHAT,
        "gen_ai.provider.name": provider,
        "gen_ai.request.model": name,
        "gen_ai.request.max_tokens": settings.max_output_tokens,
        "agent.model.purpose": purpose,
    }
    if settings.temperature is not None:
        attributes["gen_ai.request.temperature"] = settings.temperature
    started = time.perf_counter()
    error_type: str | None = None
    response: ModelResponse | None = None
    try:
        with telemetry.span(f"{CHAT} {name}", kind="client", attributes=attributes) as span:
            if span is not None and telemetry.capture_content:
                _record_input(span, messages)
            response = await model.request(messages, tools=tools, settings=settings)
            if span is not None:
                _record_response(span, response, telemetry.capture_content)
        return response
    except BaseException as exc:
        error_type = type(exc).__name__
        raise
    finally:
        if telemetry.recorder is not None:
            usage = response.usage if response is not None else None
            telemetry.recorder.model_call(
                ModelCall(
                    provider=provider,
                    model=name,
                    operation=CHAT,
                    input_tokens=usage.input if usage else 0,
                    output_tokens=usage.output if usage else 0,
                    duration_s=time.perf_counter() - started,
                    error_type=error_type,
                )
            )


def _record_response(span: Any, response: ModelResponse, content: bool) -> None:
    usage = response.usage
    span.set_attribute("gen_ai.usage.input_tokens", usage.input)
    span.set_attribute("gen_ai.usage.output_tokens", usage.output)
    if usage.cached:
        span.set_attribute("gen_ai.usage.cache_read.input_tokens", usage.cached)
    if response.model:
        span.set_attribute("gen_ai.response.model", provider_and_name(response.model)[1])
    if response.stop_reason:
        span.set_attribute("gen_ai.response.finish_reasons", [response.stop_reason])
    if content:
        output = AssistantMessage(response.text, response.tool_calls)
        span.set_attribute("gen_ai.output.messages", json.dumps([_message(output)]))


def _record_input(span: Any, messages: Sequence[Message]) -> None:
    system = [m.content for m in messages if isinstance(m, SystemMessage)]
    if system:
        parts = [{"type": "text", "content": text} for text in system]
        span.set_attribute("gen_ai.system_instructions", json.dumps(parts))
    shown = [_message(m) for m in messages if not isinstance(m, SystemMessage)]
    span.set_attribute("gen_ai.input.messages", json.dumps(shown))


def _message(message: Message) -> dict[str, Any]:
    """A message in the conventions' JSON shape: a role and its parts."""
    if isinstance(message, UserMessage | SystemMessage):
        return {"role": message.role, "parts": [{"type": "text", "content": message.content}]}
    if isinstance(message, AssistantMessage):
        parts: list[dict[str, Any]] = []
        if message.text:
            parts.append({"type": "text", "content": message.text})
        parts += [
            {"type": "tool_call", "id": c.id, "name": c.name, "arguments": c.arguments}
            for c in message.tool_calls
        ]
        return {"role": "assistant", "parts": parts}
    assert isinstance(message, ToolResultMessage)
    return {
        "role": "tool",
        "parts": [
            {"type": "tool_call_response", "id": r.call_id, "response": r.content}
            for r in message.results
        ],
    }
