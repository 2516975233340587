"""What the recipe tests ask of a scripted model's turns and count of its calls."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agent.browser import grammar
from agent.messages import Message
from tests.harness import RunningServer, latest_observation

__all__ = ["model_calls", "ref_in_latest", "replay_hits"]


def ref_in_latest(messages: Sequence[Message], role: str, name: str) -> str:
    """The ref of ``role "name"`` in the snapshot the model saw last (not an older one)."""
    text = latest_observation(messages)
    found = grammar.find_ref(text, role, name)
    assert found, f'no {role} "{name}" in the snapshot:\n{text}'
    return found


def model_calls(server: RunningServer) -> int:
    return len(server.model.requests)  # type: ignore[union-attr]


def replay_hits(server: RunningServer, url: str, prompt: str, steps: int) -> tuple[str, Any]:
    """Scrape ``url`` and send ``prompt`` with the cache on: it must replay all ``steps`` with
    no model call. The new session's id and the interact answer."""
    calls = model_calls(server)
    scrape_id = server.scrape_id(url, formats=["links"])
    response = server.interact(scrape_id, prompt=prompt, cache=True)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["cache"] == {"status": "hit", "modelCalls": 0, "steps": steps}, body
    assert model_calls(server) == calls
    return scrape_id, body
