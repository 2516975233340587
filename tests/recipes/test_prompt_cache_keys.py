"""Whose recipes are whose: on a server with API keys, a recipe (and what it types) is replayed
only for the key whose run recorded it, and /v2/cache shows and deletes only the caller's own;
typed secrets the redaction pattern matches never reach the store."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.browser import grammar
from agent.messages import Message
from agent.models import tool_call
from agent.server import ServerSettings
from tests.harness import RunningServer, latest_observation, quick_agent_settings

PROMPT = "Fill in my email and press Continue."


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, Path]]:
    data = tmp_path_factory.mktemp("keyed")
    with RunningServer(
        ServerSettings(
            profiles_dir=data / "profiles",
            max_sessions=4,
            warm_browsers=0,
            api_keys=["alice:key-of-alice", "bob:key-of-bob"],
        ),
        agent_settings=quick_agent_settings(
            data_dir=data, max_steps=6, prompt_cache=True, prompt_cache_redact=r"pw-\w+"
        ),
        count_launches=False,
    ) as running:
        yield running, data


def _headers(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer key-of-{name}"}


def _fill(value: str) -> Any:
    def turn(messages: Sequence[Message]) -> Any:
        text = latest_observation(messages)
        return [
            tool_call("fill", ref=grammar.find_ref(text, "textbox", "Email"), value=value),
            tool_call("click", ref=grammar.find_ref(text, "button", "Continue")),
        ]

    return turn


def _run(server: RunningServer, site: str, who: str, prompt: str) -> tuple[dict[str, Any], list]:
    headers = _headers(who)
    scraped = server.post("/v2/scrape", json={"url": f"{site}/checkout"}, headers=headers)
    assert scraped.status_code == 200, scraped.text
    scrape_id = scraped.json()["data"]["metadata"]["scrapeId"]
    response = server.post(
        f"/v2/scrape/{scrape_id}/interact", json={"prompt": prompt}, headers=headers
    )
    assert response.status_code == 200, response.text
    acted = list(server.evaluate(scrape_id, "window.acted"))
    httpx.delete(f"{server.url}/v2/scrape/{scrape_id}/interact", headers=headers, timeout=60)
    return dict(response.json()), acted


def test_one_keys_recipe_is_never_replayed_for_another(
    keyed: tuple[RunningServer, Path], site: str
) -> None:
    server, _ = keyed
    server.turns.add(_fill("alice@private.example"), [tool_call("done", answer="Sent.")])
    body, acted = _run(server, site, "alice", PROMPT)
    assert body["cache"]["status"] == "miss" and acted == ["continue:alice@private.example"]

    calls = len(server.model.requests)  # type: ignore[union-attr]
    server.turns.add(_fill("bob@example.com"), [tool_call("done", answer="Sent.")])
    body, acted = _run(server, site, "bob", PROMPT)
    assert acted == ["continue:bob@example.com"]  # not Alice's address, replayed
    assert body["cache"]["status"] == "miss"
    assert len(server.model.requests) == calls + 2  # type: ignore[union-attr]

    mine = httpx.get(f"{server.url}/v2/cache", headers=_headers("alice"))
    assert mine.status_code == 200
    [entry] = [e for e in mine.json()["data"] if e["prompt"] == PROMPT.casefold()]
    key = entry["key"]
    shown = httpx.get(f"{server.url}/v2/cache/{key}", headers=_headers("alice")).json()
    assert shown["data"]["recipe"]["steps"][0]["arguments"] == {"value": "alice@private.example"}
    assert httpx.get(f"{server.url}/v2/cache/{key}", headers=_headers("bob")).status_code == 404
    assert httpx.delete(f"{server.url}/v2/cache/{key}", headers=_headers("bob")).status_code == 404
    deleted = httpx.delete(f"{server.url}/v2/cache/{key}", headers=_headers("alice"))
    assert deleted.status_code == 200 and deleted.json()["deleted"] == 1
    assert httpx.get(f"{server.url}/v2/cache/{key}", headers=_headers("alice")).status_code == 404
    cleared = httpx.delete(f"{server.url}/v2/cache", headers=_headers("bob"))
    assert cleared.json()["deleted"] == 1


def test_redacted_secret_is_not_stored_and_comes_from_the_new_prompt(
    keyed: tuple[RunningServer, Path], site: str
) -> None:
    server, data = keyed
    server.turns.add(_fill("pw-first"), [tool_call("done", answer="Sent.")])
    body, acted = _run(server, site, "alice", "Send pw-first as the email, then Continue.")
    assert acted == ["continue:pw-first"] and body["cache"]["status"] == "miss"
    stored = (data / "prompt_cache.sqlite3").read_bytes()
    assert b"pw-first" not in stored and b"{{secret:0}}" in stored

    calls = len(server.model.requests)  # type: ignore[union-attr]
    body, acted = _run(server, site, "alice", "Send pw-second as the email, then Continue.")
    assert body["cache"] == {"status": "hit", "modelCalls": 0, "steps": 2}
    assert acted == ["continue:pw-second"]
    assert len(server.model.requests) == calls  # type: ignore[union-attr]
    assert b"pw-second" not in (data / "prompt_cache.sqlite3").read_bytes()
