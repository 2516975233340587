"""Two replicas share one prompt cache through a real ``redis-server`` on loopback: a recipe one
replica recorded is replayed by the other with no model call, and expires as Redis says."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import redis

from agent.browser import grammar
from agent.messages import Message
from agent.models import tool_call
from agent.server import ServerSettings
from evals.infra import redis_server
from tests.harness import RunningServer, latest_observation, quick_agent_settings

PROMPT = "Enter ada@example.com as the email and press Continue."


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


def _replica(redis_url: str, data: Path) -> RunningServer:
    return RunningServer(
        ServerSettings(
            profiles_dir=data / "profiles", max_sessions=2, warm_browsers=0, redis_url=redis_url
        ),
        agent_settings=quick_agent_settings(data_dir=data, max_steps=6, prompt_cache=True),
        count_launches=False,
    )


def _act(messages: Sequence[Message]) -> Any:
    text = latest_observation(messages)
    return [
        tool_call("fill", ref=grammar.find_ref(text, "textbox", "Email"), value="ada@example.com"),
        tool_call("click", ref=grammar.find_ref(text, "button", "Continue")),
    ]


def _prompt(server: RunningServer, site: str) -> tuple[dict[str, Any], list[str]]:
    scrape_id = server.scrape_id(f"{site}/checkout", formats=["links"])
    try:
        response = server.interact(scrape_id, prompt=PROMPT)
        assert response.status_code == 200, response.text
        return dict(response.json()), list(server.evaluate(scrape_id, "window.acted"))
    finally:
        server.stop_session(scrape_id)


def test_two_replicas_share_one_cache(redis_url: str, site: str, tmp_path: Path) -> None:
    with _replica(redis_url, tmp_path / "a") as first, _replica(redis_url, tmp_path / "b") as other:
        first.turns.add(_act, [tool_call("done", answer="Sent.")])
        body, acted = _prompt(first, site)
        assert body["cache"]["status"] == "miss" and acted == ["continue:ada@example.com"]

        body, acted = _prompt(other, site)
        assert body["cache"] == {"status": "hit", "modelCalls": 0, "steps": 2}
        assert acted == ["continue:ada@example.com"]
        assert other.model.requests == []  # type: ignore[union-attr]
        assert not (tmp_path / "b" / "prompt_cache.sqlite3").exists()  # Redis, not a file

        client = redis.Redis.from_url(redis_url)
        [stored] = client.keys("agent:prompt-cache:*")
        assert 0 < client.ttl(stored) <= 7 * 24 * 3600
