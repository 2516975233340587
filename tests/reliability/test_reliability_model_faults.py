"""Model backend faults over a real socket: the server's planner uses the real OpenAI-compatible
backend against the local fake provider, which answers 429, 500, too slowly, or with malformed
tool calls. Each ends in a recovery (retry with backoff, the model correcting itself) or a 503
naming the cause, within bounded time, and the session keeps working."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.models import OpenAIModel, RetryPolicy
from agent.server import ServerSettings
from evals.provider_server import (
    FakeProviderServer,
    Reply,
    chat_completion,
    chat_error,
    chat_tool_call,
)
from tests.harness import RunningServer, assert_error, quick_agent_settings

MODEL_TIMEOUT_S = 1.0
RETRIES = 2

# A 429 that asks to be retried in 0.1 s, as a hosted API's rate limit does.
RATE_LIMITED = Reply(
    429,
    chat_error(429, "Rate limit reached", type="rate_limit_error").body,
    headers={"retry-after": "0.1"},
)


@pytest.fixture(scope="module")
def provider() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as fake:
        yield fake


@pytest.fixture
def fake(provider: FakeProviderServer) -> FakeProviderServer:
    provider.requests.clear()
    provider._replies.clear()
    return provider


@pytest.fixture(scope="module")
def served(provider: FakeProviderServer, profiles_dir: Path) -> Iterator[RunningServer]:
    model = OpenAIModel(
        "fake-model",
        api_key="sk-test-not-a-real-key",
        base_url=provider.openai_base_url,
        provider="openai-compatible",
        timeout_s=MODEL_TIMEOUT_S,
        retry=RetryPolicy(retries=RETRIES, initial_backoff_s=0.05, max_backoff_s=0.2),
    )
    with RunningServer(
        ServerSettings(profiles_dir=profiles_dir, max_sessions=2, warm_browsers=0),
        model=model,
        agent_settings=quick_agent_settings(model_timeout=MODEL_TIMEOUT_S),
    ) as server:
        yield server


@pytest.fixture(scope="module")
def scrape_id(served: RunningServer, site: str) -> str:
    return served.scrape_id(f"{site}/page")


def _prompt(served: RunningServer, scrape_id: str) -> tuple[Any, float]:
    started = time.monotonic()
    response = served.interact(scrape_id, prompt="What does the page say?")
    return response, time.monotonic() - started


def test_429_then_success_is_retried(
    served: RunningServer, scrape_id: str, fake: FakeProviderServer
) -> None:
    fake.enqueue(
        RATE_LIMITED,
        chat_completion(text="The page says hello."),
    )  # fmt: skip
    response, _ = _prompt(served, scrape_id)
    assert response.status_code == 200, response.text
    assert response.json()["output"] == "The page says hello."
    assert len(fake.requests) == 2, "one failed attempt, one retry"


def test_500_forever_is_503_with_the_cause(
    served: RunningServer, scrape_id: str, fake: FakeProviderServer
) -> None:
    response, elapsed = _prompt(served, scrape_id)
    body = assert_error(response, 503)
    assert body["code"] == "MODEL_BACKEND_ERROR"
    assert "HTTP 500" in body["error"] and "no scripted reply left" in body["error"]
    assert len(fake.requests) == RETRIES + 1
    assert elapsed < 30


def test_a_model_that_never_answers_times_out_as_503(
    served: RunningServer, scrape_id: str, fake: FakeProviderServer
) -> None:
    fake.enqueue(Reply(200, chat_completion(text="too late").body, delay_s=3), times=RETRIES + 1)
    response, elapsed = _prompt(served, scrape_id)
    body = assert_error(response, 503)
    assert "did not answer within" in body["error"], body["error"]
    # Each attempt is cut at the model timeout; backoff between them is a fraction of a second.
    assert elapsed < (RETRIES + 1) * (MODEL_TIMEOUT_S + 1) + 10, f"{elapsed:.1f} s"


def test_malformed_tool_calls_go_back_to_the_model_which_recovers(
    served: RunningServer, scrape_id: str, fake: FakeProviderServer
) -> None:
    fake.enqueue(
        chat_completion(tool_calls=[chat_tool_call("c1", "click", '{"ref": "e1"')]),  # bad JSON
        chat_completion(tool_calls=[chat_tool_call("c2", "teleport", {"to": "mars"})]),
        chat_completion(tool_calls=[chat_tool_call("c3", "click", {"no_ref": 1})]),
        chat_completion(tool_calls=[chat_tool_call("c4", "done", {"answer": "Recovered."})]),
    )
    response, _ = _prompt(served, scrape_id)
    assert response.status_code == 200, response.text
    assert response.json()["output"] == "Recovered."
    assert len(fake.requests) == 4
    # Each mistake went back to the model as a tool result it could act on.
    results = [
        message["content"]
        for message in fake.requests[3].body["messages"]
        if message["role"] == "tool"
    ]
    assert len(results) == 3
    assert "teleport" in results[1]
    assert all("error" in text.lower() or "no tool" in text.lower() for text in results)


def test_json_and_summary_follow_the_same_retry_and_503_rules(
    served: RunningServer, site: str, fake: FakeProviderServer
) -> None:
    fake.enqueue(
        RATE_LIMITED,
        chat_completion(text='{"heading": "Reliability page"}'),
    )  # fmt: skip
    extracted = served.scrape(f"{site}/page", formats=[{"type": "json", "prompt": "The heading"}])
    assert extracted.status_code == 200, extracted.text
    served.stop_session(extracted.json()["data"]["metadata"]["scrapeId"])
    assert extracted.json()["data"]["json"] == {"heading": "Reliability page"}
    assert len(fake.requests) == 2, "one failed attempt, one retry"

    fake.requests.clear()
    sessions = len(served.registry)
    started = time.monotonic()
    response = served.scrape(f"{site}/page", formats=["summary"])
    body = assert_error(response, 503, "the summary format was not produced", "HTTP 500")
    assert body["code"] == "MODEL_BACKEND_ERROR"
    assert len(fake.requests) == RETRIES + 1
    assert time.monotonic() - started < 30
    assert len(served.registry) == sessions, "the failed scrape's session was closed"


def test_the_session_still_works_after_every_model_fault(
    served: RunningServer, scrape_id: str, fake: FakeProviderServer
) -> None:
    fake.enqueue(chat_completion(text="All good."))
    response, _ = _prompt(served, scrape_id)
    assert response.status_code == 200 and response.json()["output"] == "All good."
    code = served.interact(scrape_id, code="await page.title()", language="python")
    assert code.status_code == 200 and code.json()["result"] == "Reliability page"
