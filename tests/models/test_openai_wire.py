"""OpenAI backend wire format, replayed from cassettes through the real SDK client.

Re-record with ``python -m tests.models.record_cassettes fake`` (see that module).
"""

from __future__ import annotations

import pytest
from openai.types.chat import ChatCompletion

from agent.errors import ModelAuthError, ModelRateLimitError
from agent.messages import (
    AssistantMessage,
    ToolCall,
    ToolResult,
    ToolResultMessage,
    ToolSpec,
    Usage,
    UserMessage,
)
from agent.models.openai import OpenAIModel, from_openai_completion, to_openai_messages
from evals.provider_server import Reply, chat_completion, chat_error, chat_tool_call
from tests.models.record_cassettes import (
    FAST,
    OPENAI_MODEL,
    PAGE,
    SETTINGS,
    SYSTEM,
    CassetteFactory,
    CassetteRun,
)

CLICK = ToolSpec(
    "click",
    "Click the element with the given snapshot ref.",
    {
        "type": "object",
        "properties": {"ref": {"type": "string", "description": "A ref such as e3."}},
        "required": ["ref"],
        "additionalProperties": False,
    },
)
FILL = ToolSpec(
    "fill",
    "Replace the text of the input with the given snapshot ref.",
    {
        "type": "object",
        "properties": {"ref": {"type": "string"}, "text": {"type": "string"}},
        "required": ["ref", "text"],
        "additionalProperties": False,
    },
)


def model_for(run: CassetteRun) -> OpenAIModel:
    return OpenAIModel(OPENAI_MODEL, api_key=run.api_key, retry=FAST, client=run.client())


async def test_tool_call_request(cassette: CassetteFactory) -> None:
    with cassette("openai_tool_call", "openai") as run:
        run.script(chat_completion(tool_calls=[chat_tool_call("call_q1", "click", {"ref": "e3"})]))
        response = await model_for(run).request(
            [SYSTEM, UserMessage(f"Click the Search button (ref e3).\n\n{PAGE}")],
            tools=[CLICK, FILL],
            settings=SETTINGS,
        )

    assert [(c.name, c.arguments, c.arguments_error) for c in response.tool_calls] == [
        ("click", {"ref": "e3"}, None)
    ]
    assert response.tool_calls[0].id
    assert response.stop_reason == "tool_calls"
    assert response.model.startswith(OPENAI_MODEL)
    request = run.cassette.requests[0]
    assert request.uri == "https://api.openai.com/v1/chat/completions"
    body = run.sent_json()
    assert body["model"] == OPENAI_MODEL
    assert body["messages"][0] == {"role": "system", "content": SYSTEM.content}
    assert body["tools"][0] == {
        "type": "function",
        "function": {
            "name": "click",
            "description": CLICK.description,
            "parameters": CLICK.parameters,
        },
    }
    assert body["max_completion_tokens"] == 256
    assert body["temperature"] == 0.0


async def test_tool_result_turn(cassette: CassetteFactory) -> None:
    call = ToolCall("call_q1", "click", {"ref": "e3"})
    with cassette("openai_tool_result", "openai") as run:
        run.script(chat_completion(text="Search ran; the page shows 3 results."))
        response = await model_for(run).request(
            [
                SYSTEM,
                UserMessage(f"Click the Search button (ref e3), then say what happened.\n\n{PAGE}"),
                AssistantMessage(tool_calls=(call,)),
                ToolResultMessage(
                    (ToolResult("call_q1", "click", 'Clicked button "Search". 3 results.'),)
                ),
            ],
            tools=[CLICK, FILL],
            settings=SETTINGS,
        )

    assert response.text
    assert response.tool_calls == ()
    assert response.stop_reason == "stop"
    messages = run.sent_json()["messages"]
    assert messages[2] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_q1",
                "type": "function",
                "function": {"name": "click", "arguments": '{"ref": "e3"}'},
            }
        ],
    }
    assert messages[3] == {
        "role": "tool",
        "tool_call_id": "call_q1",
        "content": 'Clicked button "Search". 3 results.',
    }


async def test_parallel_tool_calls_and_their_results(cassette: CassetteFactory) -> None:
    task = UserMessage(
        f"In one turn, call fill on e2 with text 'cats' and click on e3, in that order.\n\n{PAGE}"
    )
    with cassette("openai_parallel_tool_calls", "openai") as run:
        run.script(
            chat_completion(
                tool_calls=[
                    chat_tool_call("call_a", "fill", {"ref": "e2", "text": "cats"}),
                    chat_tool_call("call_b", "click", {"ref": "e3"}),
                ]
            ),
            chat_completion(text="Filled the query with 'cats' and pressed Search."),
        )
        model = model_for(run)
        first = await model.request([SYSTEM, task], tools=[CLICK, FILL], settings=SETTINGS)
        results = tuple(
            ToolResult(call.id, call.name, f"{call.name} done") for call in first.tool_calls
        )
        second = await model.request(
            [
                SYSTEM,
                task,
                AssistantMessage(tool_calls=first.tool_calls),
                ToolResultMessage(results),
            ],
            tools=[CLICK, FILL],
            settings=SETTINGS,
        )

    assert [(c.name, c.arguments) for c in first.tool_calls] == [
        ("fill", {"ref": "e2", "text": "cats"}),
        ("click", {"ref": "e3"}),
    ]
    assert second.text
    sent = run.sent_json(1)["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "tool", "tool"]
    assert [m["tool_call_id"] for m in sent[3:]] == [c.id for c in first.tool_calls]


async def test_usage_is_mapped_including_cached_tokens(cassette: CassetteFactory) -> None:
    with cassette("openai_usage_cached", "openai") as run:
        run.script(
            chat_completion(
                text="Two elements.", prompt_tokens=1536, completion_tokens=4, cached_tokens=1024
            )
        )
        response = await model_for(run).request(
            [SYSTEM, UserMessage(f"How many elements are on this page?\n\n{PAGE}")],
            tools=[],
            settings=SETTINGS,
        )

    raw = run.recorded_json(0)["usage"]
    cached = (raw.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    assert response.usage == Usage(raw["prompt_tokens"], raw["completion_tokens"], cached)
    assert response.usage.input > 0 and response.usage.output > 0
    assert "tools" not in run.sent_json()


async def test_401_raises_model_auth_error_without_retrying(cassette: CassetteFactory) -> None:
    with cassette("openai_auth_error", "openai") as run:
        run.script(
            chat_error(
                401,
                "Incorrect API key provided: invalid-*-key.",
                code="invalid_api_key",
            )
        )
        model = OpenAIModel(
            OPENAI_MODEL,
            api_key="invalid-test-key",
            retry=FAST,
            client=run.client("invalid-test-key"),
        )
        with pytest.raises(ModelAuthError) as caught:
            await model.request([UserMessage("Say hi.")], tools=[], settings=SETTINGS)
        assert run.cassette.play_count in (0, 1)  # 0 while recording

    error = caught.value
    assert error.status == 401
    assert error.provider == "openai"
    assert "OPENAI_API_KEY" in str(error)
    assert "HTTP 401" in str(error)
    assert len(run.cassette) == 1


async def test_429_after_retries_raises_rate_limit_error(cassette: CassetteFactory) -> None:
    with cassette("openai_rate_limited", "openai", live=False) as run:
        # retry-after asks for 20 s; the policy caps the wait at max_backoff_s.
        limited = chat_error(429, "Rate limit reached for requests.", type="requests")
        run.script(Reply(429, limited.body, {"retry-after": "20"}), times=3)
        with pytest.raises(ModelRateLimitError) as caught:
            await model_for(run).request([UserMessage("Say hi.")], tools=[], settings=SETTINGS)

    assert caught.value.status == 429
    assert "after 3 attempts" in str(caught.value)
    assert len(run.cassette) == 3


def test_tool_results_become_one_tool_message_per_call_in_order() -> None:
    calls = (ToolCall("a", "fill", {"ref": "e2", "text": "x"}), ToolCall("b", "click", {}))
    wire = to_openai_messages(
        [
            AssistantMessage(text="Working on it.", tool_calls=calls),
            ToolResultMessage(
                (ToolResult("a", "fill", "ok"), ToolResult("b", "click", "gone", is_error=True))
            ),
        ]
    )
    assert wire[0]["content"] == "Working on it."
    assert wire[1:] == [
        {"role": "tool", "tool_call_id": "a", "content": "ok"},
        {"role": "tool", "tool_call_id": "b", "content": "gone"},
    ]


def test_completion_without_usage_details_has_zero_cached() -> None:
    body = chat_completion(text="hi", prompt_tokens=10, completion_tokens=2).body
    response = from_openai_completion(ChatCompletion.model_validate(body))
    assert response.usage == Usage(10, 2, 0)
    assert response.text == "hi"
