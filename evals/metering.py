"""Token counts for every model request, from the provider's usage or, where missing, tiktoken.

Scripted models report no usage, and some servers omit it; the eval still wants comparable
numbers, so ``MeteredModel`` counts the request and the answer with tiktoken when a response
carries none, and says so (``estimated``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace

from agent.browser.tokens import TokenCounter, token_counter
from agent.messages import (
    AssistantMessage,
    Message,
    ModelResponse,
    SystemMessage,
    ToolResultMessage,
    ToolSpec,
    Usage,
    UserMessage,
)
from agent.models.protocol import Model, ModelBase, ModelRequest

__all__ = ["MeteredModel", "count_request_tokens", "count_response_tokens"]


def _message_texts(messages: Sequence[Message]) -> list[str]:
    texts: list[str] = []
    for message in messages:
        if isinstance(message, SystemMessage | UserMessage):
            texts.append(message.content)
        elif isinstance(message, AssistantMessage):
            texts.append(message.text or "")
            texts.extend(
                f"{call.name}({json.dumps(call.arguments)})" for call in message.tool_calls
            )
        elif isinstance(message, ToolResultMessage):
            texts.extend(result.content for result in message.results)
    return texts


def count_request_tokens(
    messages: Sequence[Message], tools: Sequence[ToolSpec], counter: TokenCounter
) -> int:
    """Tokens of the messages and tool schemas, roughly as a provider would bill them."""
    tool_text = json.dumps(
        [{"name": t.name, "description": t.description, "parameters": t.parameters} for t in tools]
    )
    texts = [*_message_texts(messages), tool_text]
    # A few tokens of framing per message, as providers add.
    return sum(counter.count_many(texts)) + 4 * len(messages)


def count_response_tokens(response: ModelResponse, counter: TokenCounter) -> int:
    """Tokens of an answer's text and tool calls."""
    parts = [response.text or ""]
    parts.extend(f"{call.name}({json.dumps(call.arguments)})" for call in response.tool_calls)
    return sum(counter.count_many(parts))


class MeteredModel(ModelBase):
    """Wraps a model; fills in usage with tiktoken counts when the response has none."""

    def __init__(self, inner: Model, counter: TokenCounter | None = None) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.counter = counter or token_counter(inner.model_id)
        self.estimated = False

    async def answer(self, request: ModelRequest) -> ModelResponse:
        messages, tools = request.messages, request.tools
        response = await self.inner.request(messages, tools=tools, settings=request.settings)
        if response.usage.input or response.usage.output:
            return response
        self.estimated = True
        usage = Usage(
            input=count_request_tokens(messages, tools, self.counter),
            output=count_response_tokens(response, self.counter),
        )
        return replace(response, usage=usage)
