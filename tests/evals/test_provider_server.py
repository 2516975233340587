"""The local reference endpoint speaks both wire formats and rejects what the real APIs reject."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from evals.provider_server import ReferenceProviderServer
from evals.reference import ReferencePolicy
from evals.tasks import Task


def _post(url: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        # Like the SDKs, always send a key: the fake provider refuses a request without one.
        headers={"content-type": "application/json", "x-api-key": "test-key", **(headers or {})},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture(scope="module")
def server(policy: ReferencePolicy) -> Any:
    with ReferenceProviderServer(policy) as running:
        yield running


def test_openai_answer_follows_the_reference_solution(server: Any, all_tasks: list[Task]) -> None:
    task = next(t for t in all_tasks if t.id == "login-basic")
    snapshot = '@e2 textbox "Username"\n@e3 textbox "Password"\n@e5 button "Sign in"'
    observation = f"# Task\n{task.prompt}\n\n# Snapshot\n{snapshot}"
    status, body = _post(
        f"{server.openai_base_url}/chat/completions",
        {"model": "reference-policy", "messages": [{"role": "user", "content": observation}]},
    )
    assert status == 200
    calls = body["choices"][0]["message"]["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["fill", "fill", "click"]
    assert json.loads(calls[2]["function"]["arguments"]) == {"ref": "@e5"}
    assert body["usage"]["prompt_tokens"] > 0


def test_protocol_violations_get_a_400(server: Any) -> None:
    status, body = _post(
        f"{server.url}/v1/messages",
        {
            "model": "m",
            "max_tokens": 10,
            "temperature": 0,
            "messages": [{"role": "user", "content": "hi"}],
        },
        {"anthropic-version": "2023-06-01"},
    )
    assert status == 400 and "temperature" in body["error"]["message"]
    status, body = _post(
        f"{server.openai_base_url}/chat/completions",
        {"model": "m", "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "x", "arguments": "{}"}}]},
            {"role": "user", "content": "no tool result"},
        ]},
    )  # fmt: skip
    assert status == 400 and "c1" in body["error"]["message"]
