"""The backends' wire formats, replayed from cassettes through each provider's real SDK client.

One suite for every recordable provider: each scenario runs once per wire (``wires.py``), against
``cassettes/<provider>_<scenario>.yaml``, with the model the provider table builds. The
translators' own quirks are tested per wire at the end.

Re-record with ``python -m tests.models.record_cassettes fake`` (see that module).
"""

from __future__ import annotations

import pytest
from anthropic.types import Message as AnthropicMessage
from openai.types.chat import ChatCompletion

from agent.errors import ModelAuthError, ModelRateLimitError
from agent.messages import (
    AssistantMessage,
    SystemMessage,
    ToolCall,
    ToolResult,
    ToolResultMessage,
    Usage,
    UserMessage,
)
from agent.models.anthropic import from_anthropic_message, to_anthropic_request
from agent.models.openai import from_openai_completion, to_openai_messages
from evals.provider_server import (
    Reply,
    anthropic_message,
    chat_completion,
)
from tests.models.record_cassettes import (
    PAGE,
    SETTINGS,
    SYSTEM,
    CassetteFactory,
)
from tests.models.wires import WIRES, Wire

by_wire = pytest.mark.parametrize("wire", WIRES, ids=lambda wire: wire.provider)


@by_wire
async def test_tool_call_request(wire: Wire, cassette: CassetteFactory) -> None:
    with cassette(f"{wire.provider}_tool_call", wire.provider) as run:
        run.script(wire.calls((wire.ids[0], "click", {"ref": "e3"})))
        response = await run.model().request(
            [SYSTEM, UserMessage(f"Click the Search button (ref e3).\n\n{PAGE}")],
            tools=wire.tools,
            settings=SETTINGS,
        )

    assert [(c.name, c.arguments, c.arguments_error) for c in response.tool_calls] == [
        ("click", {"ref": "e3"}, None)
    ]
    assert response.tool_calls[0].id
    assert response.stop_reason == wire.stop_tool
    assert response.model.startswith(wire.model_name)
    assert run.cassette.requests[0].uri == wire.endpoint
    body = run.sent_json()
    assert body["model"] == wire.model_name
    wire.check_first_request(body)


@by_wire
async def test_tool_result_turn(wire: Wire, cassette: CassetteFactory) -> None:
    call = ToolCall(wire.ids[0], "click", {"ref": "e3"})
    with cassette(f"{wire.provider}_tool_result", wire.provider) as run:
        run.script(wire.text("Search ran; the page shows 3 results."))
        response = await run.model().request(
            [
                SYSTEM,
                UserMessage(f"Click the Search button (ref e3), then say what happened.\n\n{PAGE}"),
                AssistantMessage(tool_calls=(call,)),
                ToolResultMessage(
                    (ToolResult(call.id, "click", 'Clicked button "Search". 3 results.'),)
                ),
            ],
            tools=wire.tools,
            settings=SETTINGS,
        )

    assert response.text
    assert response.tool_calls == ()
    assert response.stop_reason == wire.stop_text
    assert wire.after_task(run.sent_json()) == wire.tool_result_turn


@by_wire
async def test_parallel_tool_results_turn(wire: Wire, cassette: CassetteFactory) -> None:
    calls = (
        ToolCall(wire.ids[0], "fill", {"ref": "e2", "text": "cats"}),
        ToolCall(wire.ids[1], "click", {"ref": "e9"}),
    )
    with cassette(f"{wire.provider}_parallel_tool_results", wire.provider) as run:
        run.script(wire.text("I filled the query; e9 does not exist, so I stopped."))
        response = await run.model().request(
            [
                SYSTEM,
                UserMessage(f"Fill e2 with 'cats' and click e9, then report.\n\n{PAGE}"),
                AssistantMessage(text="Doing both.", tool_calls=calls),
                ToolResultMessage(
                    (
                        ToolResult(calls[0].id, "fill", "Filled."),
                        ToolResult(calls[1].id, "click", "No element e9.", is_error=True),
                    )
                ),
                UserMessage(f"Current page:\n{PAGE}"),
            ],
            tools=wire.tools,
            settings=SETTINGS,
        )

    assert response.text
    assert response.tool_calls == ()
    assert response.stop_reason == wire.stop_text
    sent = run.sent_json()
    assert [m["role"] for m in sent["messages"]] == wire.parallel_results_roles
    assert wire.after_task(sent) == wire.parallel_results_turn


@by_wire
async def test_parallel_tool_calls_and_their_results(wire: Wire, cassette: CassetteFactory) -> None:
    task = UserMessage(
        f"In one turn, call fill on e2 with text 'cats' and click on e3, in that order.\n\n{PAGE}"
    )
    with cassette(f"{wire.provider}_parallel_tool_calls", wire.provider) as run:
        run.script(
            wire.calls(
                (wire.ids[1], "fill", {"ref": "e2", "text": "cats"}),
                (wire.ids[2], "click", {"ref": "e3"}),
            ),
            wire.text("Filled the query with 'cats' and pressed Search."),
        )
        model = run.model()
        first = await model.request([SYSTEM, task], tools=wire.tools, settings=SETTINGS)
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
            tools=wire.tools,
            settings=SETTINGS,
        )

    assert [(c.name, c.arguments) for c in first.tool_calls] == [
        ("fill", {"ref": "e2", "text": "cats"}),
        ("click", {"ref": "e3"}),
    ]
    assert second.text
    sent = run.sent_json(1)["messages"]
    assert [m["role"] for m in sent] == wire.parallel_calls_roles
    assert wire.result_ids(sent) == [c.id for c in first.tool_calls]


@by_wire
async def test_usage_is_mapped_including_cached_tokens(
    wire: Wire, cassette: CassetteFactory
) -> None:
    with cassette(f"{wire.provider}_usage_cached", wire.provider) as run:
        run.script(wire.usage_reply())
        response = await run.model().request(
            [SYSTEM, UserMessage(f"How many elements are on this page?\n\n{PAGE}")],
            tools=[],
            settings=SETTINGS,
        )

    assert response.usage == wire.expected_usage(run.recorded_json(0)["usage"])
    assert response.usage.input > 0 and response.usage.output > 0
    assert "tools" not in run.sent_json()


@by_wire
async def test_401_raises_model_auth_error_without_retrying(
    wire: Wire, cassette: CassetteFactory
) -> None:
    with cassette(f"{wire.provider}_auth_error", wire.provider) as run:
        run.script(wire.auth_error())
        model = run.model("invalid-test-key")
        with pytest.raises(ModelAuthError) as caught:
            await model.request([UserMessage("Say hi.")], tools=[], settings=SETTINGS)
        assert run.cassette.play_count in (0, 1)  # 0 while recording

    error = caught.value
    assert error.status == 401
    assert error.provider == wire.provider
    assert wire.key_env in str(error)
    assert "HTTP 401" in str(error)
    assert len(run.cassette) == 1


@by_wire
async def test_429_after_retries_raises_rate_limit_error(
    wire: Wire, cassette: CassetteFactory
) -> None:
    with cassette(f"{wire.provider}_rate_limited", wire.provider, live=False) as run:
        # retry-after asks for 20 s; the policy caps the wait at max_backoff_s.
        limited = wire.rate_limited()
        run.script(Reply(429, limited.body, {"retry-after": "20"}), times=3)
        with pytest.raises(ModelRateLimitError) as caught:
            await run.model().request([UserMessage("Say hi.")], tools=[], settings=SETTINGS)

    assert caught.value.status == 429
    assert "after 3 attempts" in str(caught.value)
    assert len(run.cassette) == 3


@by_wire
async def test_overloaded_answer_is_retried(wire: Wire, cassette: CassetteFactory) -> None:
    with cassette(f"{wire.provider}_overloaded_retry", wire.provider, live=False) as run:
        run.script(wire.overloaded(), wire.text("hi"))
        response = await run.model().request([UserMessage("Say hi.")], tools=[], settings=SETTINGS)

    assert response.text == "hi"
    assert len(run.cassette) == 2


# --- each translator's own rules ----------------------------------------------------------------


def test_openai_tool_results_become_one_tool_message_per_call_in_order() -> None:
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


def test_openai_completion_without_usage_details_has_zero_cached() -> None:
    body = chat_completion(text="hi", prompt_tokens=10, completion_tokens=2).body
    response = from_openai_completion(ChatCompletion.model_validate(body))
    assert response.usage == Usage(10, 2, 0)
    assert response.text == "hi"


def test_anthropic_system_messages_go_top_level_and_same_roles_merge() -> None:
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


def test_anthropic_text_blocks_are_joined() -> None:
    body = anthropic_message(text="hello").body
    body["content"].append({"type": "text", "text": " world"})
    response = from_anthropic_message(AnthropicMessage.model_validate(body))
    assert response.text == "hello world"
    assert response.usage == Usage(140, 22, 0)
