"""The backends' wire formats, replayed from cassettes through each provider's real SDK client.

One suite for every recordable provider: each scenario runs once per wire, against
``cassettes/<provider>_<scenario>.yaml``, with the model the provider table builds. What the
wires write differently (where the system prompt goes, how tools, tool calls and results are
sent, stop reasons, reply bodies) is stated per wire, literally, in :class:`OpenAIWire` and
:class:`AnthropicWire` and in the expected turns below; a new provider adds its own ``Wire``.
The translators' own quirks are tested per wire at the end.

Re-record with ``python -m tests.models.record_cassettes fake`` (see that module).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

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
    ToolSpec,
    Usage,
    UserMessage,
)
from agent.models.anthropic import from_anthropic_message, to_anthropic_request
from agent.models.openai import from_openai_completion, to_openai_messages
from evals.provider_server import (
    Reply,
    anthropic_error,
    anthropic_message,
    chat_completion,
    chat_error,
    chat_tool_call,
)
from tests.models.record_cassettes import (
    ANTHROPIC_MODEL,
    OPENAI_MODEL,
    PAGE,
    SETTINGS,
    SYSTEM,
    CassetteFactory,
)


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


TOOL_RESULT_TURN: dict[str, list[Any]] = {
    "openai": [
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
    ],
    "anthropic": [
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
    ],
}
"""What follows the task when one tool call and its result are sent back."""


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
    assert wire.after_task(run.sent_json()) == TOOL_RESULT_TURN[wire.provider]


PARALLEL_RESULTS_ROLES = {
    "openai": ["system", "user", "assistant", "tool", "tool", "user"],
    "anthropic": ["user", "assistant", "user"],
}
PARALLEL_RESULTS_TURN: dict[str, list[Any]] = {
    "openai": [
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
    ],
    "anthropic": [
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
    ],
}
"""What follows the task when two results (one an error) and a new page are sent back."""


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
    assert [m["role"] for m in sent["messages"]] == PARALLEL_RESULTS_ROLES[wire.provider]
    assert wire.after_task(sent) == PARALLEL_RESULTS_TURN[wire.provider]


PARALLEL_CALLS_ROLES = {
    "openai": ["system", "user", "assistant", "tool", "tool"],
    "anthropic": ["user", "assistant", "user"],
}


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
    assert [m["role"] for m in sent] == PARALLEL_CALLS_ROLES[wire.provider]
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
