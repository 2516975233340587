"""ScriptedModel: the test double shipped with the library."""

from __future__ import annotations

import re
from collections.abc import Sequence

import pytest

from agent.errors import ModelResponseError
from agent.messages import (
    Message,
    ModelResponse,
    ModelSettings,
    ToolCall,
    ToolSpec,
    Usage,
    UserMessage,
)
from agent.models import ScriptedModel, ScriptedTurn, ScriptStep, tool_call

SETTINGS = ModelSettings()
CLICK = ToolSpec("click", "Click a ref.", {"type": "object"})


async def test_plays_turns_in_order_and_records_requests() -> None:
    model = ScriptedModel([[tool_call("click", ref="e3")], "Done."])
    first_messages = [UserMessage("Click Search.")]

    first = await model.request(first_messages, tools=[CLICK], settings=SETTINGS)
    second = await model.request([UserMessage("next")], tools=[], settings=SETTINGS)

    assert first.tool_calls == (ToolCall("call_1", "click", {"ref": "e3"}),)
    assert first.text is None and first.stop_reason == "tool_calls"
    assert second.text == "Done." and second.tool_calls == () and second.stop_reason == "stop"
    assert [r.messages for r in model.requests] == [tuple(first_messages), (UserMessage("next"),)]
    assert model.requests[0].tools == (CLICK,) and model.requests[0].settings == SETTINGS
    assert model.remaining == 0
    assert first.model == "scripted"


async def test_ids_are_deterministic_across_turns_and_keep_given_ids() -> None:
    model = ScriptedModel(
        [
            [tool_call("fill", ref="e2", text="x"), tool_call("click", ref="e3")],
            [ToolCall("mine", "click", {"ref": "e4"}), tool_call("scroll")],
        ]
    )
    first = await model.request([], tools=[], settings=SETTINGS)
    second = await model.request([], tools=[], settings=SETTINGS)
    assert [c.id for c in first.tool_calls + second.tool_calls] == [
        "call_1",
        "call_2",
        "mine",
        "call_4",
    ]


async def test_running_out_raises_a_clear_error() -> None:
    model = ScriptedModel(["only answer"])
    await model.request([], tools=[], settings=SETTINGS)
    with pytest.raises(ModelResponseError, match="ran out of script: request 2") as caught:
        await model.request([], tools=[], settings=SETTINGS)
    assert caught.value.provider == "scripted"
    assert "1 turn(s) were scripted" in str(caught.value)


async def test_turns_and_responses() -> None:
    usage = Usage(100, 10, 0)
    model = ScriptedModel(
        [
            ScriptedTurn(text="Clicking.", tool_calls=[tool_call("click", ref="e1")], usage=usage),
            ModelResponse(text="final", usage=usage, stop_reason="stop"),
        ],
        model_id="scripted:demo",
    )
    turn = await model.request([], tools=[], settings=SETTINGS)
    response = await model.request([], tools=[], settings=SETTINGS)
    assert turn.text == "Clicking." and turn.tool_calls[0].id == "call_1" and turn.usage == usage
    assert turn.model == "scripted:demo" and model.model_id == "scripted:demo"
    assert response.text == "final" and response.usage == usage


async def test_bad_script_entry_is_reported() -> None:
    model = ScriptedModel([42])  # type: ignore[list-item]
    with pytest.raises(ModelResponseError, match="script entry of type int"):
        await model.request([], tools=[], settings=SETTINGS)


def _click_by_role_and_name(messages: Sequence[Message], tools: Sequence[ToolSpec]) -> ScriptStep:
    """Follow a reference solution: find `button "Search"` in the last snapshot, click its ref."""
    last = messages[-1]
    assert isinstance(last, UserMessage)
    found = re.search(r'- button "Search" \[ref=(e\d+)\]', last.content)
    if found is None:
        return "No Search button."
    return [tool_call("click", ref=found.group(1))]


async def test_policy_function_decides_from_messages() -> None:
    model = ScriptedModel(_click_by_role_and_name)
    snapshot = UserMessage('- textbox "Query" [ref=e2]\n- button "Search" [ref=e7]')

    response = await model.request([snapshot], tools=[CLICK], settings=SETTINGS)
    nothing = await model.request([UserMessage("- link")], tools=[CLICK], settings=SETTINGS)

    assert response.tool_calls == (ToolCall("call_1", "click", {"ref": "e7"}),)
    assert nothing.text == "No Search button."
    assert len(model.requests) == 2


async def test_async_policy() -> None:
    async def policy(messages: Sequence[Message], tools: Sequence[ToolSpec]) -> str:
        return f"{len(messages)} messages, {len(tools)} tools"

    model = ScriptedModel(policy)
    response = await model.request([UserMessage("a")], tools=[CLICK], settings=SETTINGS)
    assert response.text == "1 messages, 1 tools"
