"""openai-compatible and ollama backends against the fake server over a real socket."""

from __future__ import annotations

import time

import pytest

from agent.config import Settings
from agent.errors import ModelError, ModelRateLimitError, ModelResponseError, ModelTimeoutError
from agent.messages import (
    ModelSettings,
    ToolResult,
    ToolResultMessage,
    ToolSpec,
    UserMessage,
)
from agent.models import OLLAMA_BASE_URL, create_model
from agent.models.openai import OpenAIModel
from agent.models.retry import RetryPolicy
from evals.provider_server import (
    FakeProviderServer,
    Reply,
    chat_completion,
    chat_error,
    chat_tool_call,
)
from tests.harness import free_port

FAST = RetryPolicy(retries=2, initial_backoff_s=0.001, max_backoff_s=0.001)
SETTINGS = ModelSettings(temperature=0.2, max_output_tokens=128, timeout_s=10.0)
CLICK = ToolSpec("click", "Click a ref.", {"type": "object", "properties": {"ref": {}}})
HELLO = [UserMessage("Say hi.")]


def compatible(server: FakeProviderServer, *, retry: RetryPolicy = FAST) -> OpenAIModel:
    return OpenAIModel(
        "qwen3",
        api_key=None,
        base_url=server.openai_base_url,
        provider="openai-compatible",
        retry=retry,
    )


async def test_create_model_talks_to_the_configured_server(fake_server: FakeProviderServer) -> None:
    fake_server.enqueue(chat_completion(text="hi", model="qwen3"))
    model = create_model(
        "openai-compatible:qwen3", settings=Settings(base_url=fake_server.openai_base_url)
    )

    response = await model.request(HELLO, tools=[CLICK], settings=SETTINGS)

    assert response.text == "hi"
    assert model.model_id == "openai-compatible:qwen3"
    [request] = fake_server.requests
    assert request.path == "/v1/chat/completions"
    assert request.body["model"] == "qwen3"
    assert request.body["max_tokens"] == 128  # compatible servers know max_tokens
    assert "max_completion_tokens" not in request.body
    assert request.body["temperature"] == 0.2
    assert request.headers["authorization"] == "Bearer no-key-needed"


async def test_openai_key_is_sent_to_compatible_server_when_set(
    fake_server: FakeProviderServer,
) -> None:
    fake_server.enqueue(chat_completion(text="hi"))
    settings = Settings(base_url=fake_server.openai_base_url, openai_api_key="sk-local")
    await create_model("openai-compatible:m", settings=settings).request(
        HELLO, tools=[], settings=SETTINGS
    )
    assert fake_server.requests[0].headers["authorization"] == "Bearer sk-local"


async def test_ollama_uses_base_url_override(fake_server: FakeProviderServer) -> None:
    fake_server.enqueue(chat_completion(text="hi"))
    model = create_model("ollama:qwen3", settings=Settings(base_url=fake_server.openai_base_url))
    assert (await model.request(HELLO, tools=[], settings=SETTINGS)).text == "hi"
    assert model.model_id == "ollama:qwen3"


def test_ollama_defaults_to_local_port_and_needs_no_key() -> None:
    model = create_model("ollama:qwen3", settings=Settings())
    assert isinstance(model, OpenAIModel)
    assert str(model.client.base_url).rstrip("/") == OLLAMA_BASE_URL


async def test_500_then_success_is_retried(fake_server: FakeProviderServer) -> None:
    fake_server.enqueue(chat_error(500, "upstream crashed", type="server_error"))
    fake_server.enqueue(chat_completion(text="recovered"))

    response = await compatible(fake_server).request(HELLO, tools=[], settings=SETTINGS)

    assert response.text == "recovered"
    assert len(fake_server.requests) == 2


async def test_500_forever_raises_model_error_naming_provider_and_status(
    fake_server: FakeProviderServer,
) -> None:
    fake_server.fallback = chat_error(500, "upstream crashed", type="server_error")

    with pytest.raises(ModelError) as caught:
        await compatible(fake_server).request(HELLO, tools=[], settings=SETTINGS)

    error = caught.value
    assert type(error) is ModelError
    assert (error.provider, error.status) == ("openai-compatible", 500)
    message = str(error)
    for part in ("openai-compatible", "HTTP 500", "upstream crashed", "after 3 attempts"):
        assert part in message
    assert "AGENT_BASE_URL" in message and fake_server.openai_base_url in message
    assert len(fake_server.requests) == 3


async def test_retry_after_is_capped_by_the_policy(fake_server: FakeProviderServer) -> None:
    fake_server.fallback = Reply(429, chat_error(429, "slow down").body, {"retry-after": "30"})
    started = time.monotonic()

    with pytest.raises(ModelRateLimitError):
        await compatible(fake_server).request(HELLO, tools=[], settings=SETTINGS)

    assert time.monotonic() - started < 5


async def test_malformed_tool_arguments_become_arguments_error(
    fake_server: FakeProviderServer,
) -> None:
    fake_server.enqueue(
        chat_completion(
            tool_calls=[
                chat_tool_call("c1", "click", '{"ref": "e3"'),
                chat_tool_call("c2", "click", '["e3"]'),
                chat_tool_call("c3", "click", '{"ref": "e4"}'),
                chat_tool_call("c4", "scroll", ""),
            ]
        )
    )

    response = await compatible(fake_server).request(HELLO, tools=[CLICK], settings=SETTINGS)

    broken, not_object, good, empty = response.tool_calls
    assert broken.arguments == {} and "not valid JSON" in (broken.arguments_error or "")
    assert not_object.arguments == {} and "JSON object" in (not_object.arguments_error or "")
    assert good.arguments == {"ref": "e4"} and good.arguments_error is None
    assert empty.arguments == {} and empty.arguments_error is None


async def test_timeout_raises_model_timeout_error(fake_server: FakeProviderServer) -> None:
    fake_server.fallback = Reply(200, chat_completion(text="late").body, delay_s=1.0)
    model = compatible(fake_server, retry=RetryPolicy(0, 0.001, 0.001))

    with pytest.raises(ModelTimeoutError) as caught:
        await model.request(HELLO, tools=[], settings=ModelSettings(timeout_s=0.2))

    assert "within 0.2 s" in str(caught.value)
    assert "AGENT_MODEL_TIMEOUT" in str(caught.value)


async def test_connection_refused_says_to_check_the_base_url() -> None:
    port = free_port()
    model = create_model("ollama:qwen3", settings=Settings(base_url=f"http://127.0.0.1:{port}/v1"))
    model.retry = FAST  # type: ignore[attr-defined]

    with pytest.raises(ModelError) as caught:
        await model.request(HELLO, tools=[], settings=SETTINGS)

    message = str(caught.value)
    assert "Could not connect" in message and f"127.0.0.1:{port}" in message
    assert "AGENT_BASE_URL" in message and "ollama serve" in message


async def test_404_names_the_model(fake_server: FakeProviderServer) -> None:
    fake_server.enqueue(chat_error(404, "model 'qwen3' not found", type="not_found_error"))

    with pytest.raises(ModelError) as caught:
        await compatible(fake_server).request(HELLO, tools=[], settings=SETTINGS)

    assert caught.value.status == 404
    assert "'qwen3'" in str(caught.value) and "AGENT_MODEL" in str(caught.value)
    assert len(fake_server.requests) == 1  # 404 is not retried


async def test_fake_server_rejects_a_tool_result_without_its_call(
    fake_server: FakeProviderServer,
) -> None:
    orphan = ToolResultMessage((ToolResult("nope", "click", "done"),))

    with pytest.raises(ModelError) as caught:
        await compatible(fake_server).request([*HELLO, orphan], tools=[], settings=SETTINGS)

    assert caught.value.status == 400
    assert "rejected the request" in str(caught.value)


@pytest.mark.parametrize("body", [{"foo": 1}, {"choices": []}, {"choices": "nope"}])
async def test_a_body_that_is_not_a_completion_raises_model_response_error(
    fake_server: FakeProviderServer, body: dict[str, object]
) -> None:
    fake_server.enqueue(Reply(200, body))

    with pytest.raises(ModelResponseError, match="not a Chat Completion") as caught:
        await compatible(fake_server).request(HELLO, tools=[], settings=SETTINGS)

    assert "AGENT_BASE_URL" in str(caught.value)
