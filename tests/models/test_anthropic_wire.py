"""Anthropic backend wire format, replayed from cassettes through the real SDK client.

Re-record with ``python -m tests.models.record_cassettes fake`` (see that module).
"""

from __future__ import annotations

import pytest
from anthropic.types import Message as AnthropicMessage

from agent.errors import ModelAuthError, ModelRateLimitError
from agent.messages import (
    AssistantMessage,
    SystemMessage,
    ToolCall,
    ToolResult,
    ToolResultMessage,
    ToolSpec,
    Usage,
    UserMessage,
)
from agent.models.anthropic import AnthropicModel, from_anthropic_message, to_anthropic_request
from evals.provider_server import Reply, anthropic_error, anthropic_message
from tests.models.record_cassettes import (
    ANTHROPIC_MODEL,
    FAST,
    PAGE,
    SETTINGS,
    SYSTEM,
    CassetteFactory,
    CassetteRun,
)

CLICK = ToolSpec(
    "click",
    "Click the element with the given snapshot ref.",
    {"type": "object", "properties": {"ref": {"type": "string"}}, "required": ["ref"]},
)
FILL = ToolSpec(
    "fill",
    "Replace the text of the input with the given snapshot ref.",
    {
        "type": "object",
        "properties": {"ref": {"type": "string"}, "text": {"type": "string"}},
        "required": ["ref", "text"],
    },
)


def model_for(run: CassetteRun) -> AnthropicModel:
    return AnthropicModel(ANTHROPIC_MODEL, api_key=run.api_key, retry=FAST, client=run.client())


async def test_tool_use_request(cassette: CassetteFactory) -> None:
    with cassette("anthropic_tool_use", "anthropic") as run:
        run.script(anthropic_message(tool_uses=[("toolu_01", "click", {"ref": "e3"})]))
        response = await model_for(run).request(
            [SYSTEM, UserMessage(f"Click the Search button (ref e3).\n\n{PAGE}")],
            tools=[CLICK, FILL],
            settings=SETTINGS,
        )

    assert [(c.name, c.arguments) for c in response.tool_calls] == [("click", {"ref": "e3"})]
    assert response.tool_calls[0].id
    assert response.stop_reason == "tool_use"
    assert run.cassette.requests[0].uri == "https://api.anthropic.com/v1/messages"
    body = run.sent_json()
    assert body["system"] == SYSTEM.content
    assert body["max_tokens"] == 256
    assert "temperature" not in body  # API version 2026-10-21 rejects sampling parameters
    assert body["tools"][0] == {
        "name": "click",
        "description": CLICK.description,
        "input_schema": CLICK.parameters,
    }
    assert [m["role"] for m in body["messages"]] == ["user"]


async def test_parallel_tool_results_turn(cassette: CassetteFactory) -> None:
    calls = (
        ToolCall("toolu_01", "fill", {"ref": "e2", "text": "cats"}),
        ToolCall("toolu_02", "click", {"ref": "e9"}),
    )
    with cassette("anthropic_tool_result", "anthropic") as run:
        run.script(anthropic_message(text="I filled the query; e9 does not exist, so I stopped."))
        response = await model_for(run).request(
            [
                SYSTEM,
                UserMessage(f"Fill e2 with 'cats' and click e9, then report.\n\n{PAGE}"),
                AssistantMessage(text="Doing both.", tool_calls=calls),
                ToolResultMessage(
                    (
                        ToolResult("toolu_01", "fill", "Filled."),
                        ToolResult("toolu_02", "click", "No element e9.", is_error=True),
                    )
                ),
                UserMessage(f"Current page:\n{PAGE}"),
            ],
            tools=[CLICK, FILL],
            settings=SETTINGS,
        )

    assert response.text
    assert response.tool_calls == ()
    assert response.stop_reason == "end_turn"
    messages = run.sent_json()["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[1]["content"] == [
        {"type": "text", "text": "Doing both."},
        {"type": "tool_use", "id": "toolu_01", "name": "fill", "input": calls[0].arguments},
        {"type": "tool_use", "id": "toolu_02", "name": "click", "input": {"ref": "e9"}},
    ]
    results, snapshot = messages[2]["content"][:2], messages[2]["content"][2]
    assert results == [
        {"type": "tool_result", "tool_use_id": "toolu_01", "content": "Filled.", "is_error": False},
        {
            "type": "tool_result",
            "tool_use_id": "toolu_02",
            "content": "No element e9.",
            "is_error": True,
        },
    ]
    assert snapshot == {"type": "text", "text": f"Current page:\n{PAGE}"}


async def test_usage_is_mapped_including_cache_reads(cassette: CassetteFactory) -> None:
    with cassette("anthropic_usage_cached", "anthropic") as run:
        run.script(
            anthropic_message(
                text="Two elements.",
                input_tokens=300,
                output_tokens=5,
                cache_read_input_tokens=900,
            )
        )
        response = await model_for(run).request(
            [SYSTEM, UserMessage(f"How many elements are on this page?\n\n{PAGE}")],
            tools=[],
            settings=SETTINGS,
        )

    raw = run.recorded_json(0)["usage"]
    cached = raw.get("cache_read_input_tokens") or 0
    written = raw.get("cache_creation_input_tokens") or 0
    assert response.usage == Usage(
        raw["input_tokens"] + cached + written, raw["output_tokens"], cached
    )
    assert "tools" not in run.sent_json()


async def test_401_raises_model_auth_error(cassette: CassetteFactory) -> None:
    with cassette("anthropic_auth_error", "anthropic") as run:
        run.script(anthropic_error(401, "authentication_error", "invalid x-api-key"))
        model = AnthropicModel(
            ANTHROPIC_MODEL,
            api_key="invalid-test-key",
            retry=FAST,
            client=run.client("invalid-test-key"),
        )
        with pytest.raises(ModelAuthError) as caught:
            await model.request([UserMessage("Say hi.")], tools=[], settings=SETTINGS)

    assert caught.value.status == 401
    assert caught.value.provider == "anthropic"
    assert "ANTHROPIC_API_KEY" in str(caught.value)
    assert len(run.cassette) == 1


async def test_429_after_retries_raises_rate_limit_error(cassette: CassetteFactory) -> None:
    with cassette("anthropic_rate_limited", "anthropic", live=False) as run:
        limited = anthropic_error(429, "rate_limit_error", "Number of requests exceeded.")
        run.script(Reply(429, limited.body, {"retry-after": "20"}), times=3)
        with pytest.raises(ModelRateLimitError) as caught:
            await model_for(run).request([UserMessage("Say hi.")], tools=[], settings=SETTINGS)

    assert caught.value.status == 429
    assert "after 3 attempts" in str(caught.value)
    assert len(run.cassette) == 3


async def test_overloaded_529_is_retried(cassette: CassetteFactory) -> None:
    with cassette("anthropic_overloaded_retry", "anthropic", live=False) as run:
        run.script(
            anthropic_error(529, "overloaded_error", "Overloaded"),
            anthropic_message(text="hi"),
        )
        response = await model_for(run).request(
            [UserMessage("Say hi.")], tools=[], settings=SETTINGS
        )

    assert response.text == "hi"
    assert len(run.cassette) == 2


def test_system_messages_go_top_level_and_same_roles_merge() -> None:
    system, wire = to_anthropic_request(
        [
            SystemMessage("rules"),
            UserMessage("a"),
            SystemMessage("more rules"),
            UserMessage("b"),
            AssistantMessage(text=""),  # empty: dropped, the API rejects empty text blocks
        ]
    )
    assert system == "rules\n\nmore rules"
    assert wire == [
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}
    ]


def test_text_blocks_are_joined() -> None:
    body = anthropic_message(text="hello").body
    body["content"].append({"type": "text", "text": " world"})
    response = from_anthropic_message(AnthropicMessage.model_validate(body))
    assert response.text == "hello world"
    assert response.usage == Usage(140, 22, 0)
