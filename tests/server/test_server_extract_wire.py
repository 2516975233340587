"""The json and summary formats over both real wire formats, driven by firecrawl-py: the server's
model is the real OpenAI or Anthropic backend, whose SDK client replays a cassette from
``tests/models/cassettes/`` (strict matching: the prompt templates, the page's markdown and the
settings are all in the recorded request bodies).

Re-record with ``python -m tests.models.record_cassettes fake`` (or ``live``); see that module.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from firecrawl import Firecrawl

from agent.models import AnthropicModel, Model, OpenAIModel
from agent.server import ServerSettings
from evals.provider_server import Reply, anthropic_message, chat_completion
from tests.harness import RunningServer, quick_agent_settings
from tests.models.record_cassettes import (
    ANTHROPIC_MODEL,
    FAST,
    OPENAI_MODEL,
    CassetteFactory,
    CassetteRun,
    cassette_factory,
)

PROVIDERS = ("openai", "anthropic")
SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "price": {"type": "number"}},
    "required": ["name", "price"],
}
KETTLE = {"name": "Blue Kettle", "price": 39.5}
WRONG = '{"name": "Blue Kettle", "price": "39.50 EUR"}'
SUMMARY = "A product page for the Blue Kettle, a 1.7 litre electric kettle at 39.50 EUR."


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Replay must use the SDKs' default API hosts, whatever the developer's shell sets."""
    for name in ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "AGENT_CONFIG", "AGENT_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def cassette() -> Iterator[CassetteFactory]:
    with cassette_factory() as open_cassette:
        yield open_cassette


def _answer(run: CassetteRun, text: str) -> Reply:
    return chat_completion(text=text) if run.provider == "openai" else anthropic_message(text=text)


def _model(run: CassetteRun) -> Model:
    if run.provider == "openai":
        return OpenAIModel(OPENAI_MODEL, api_key=run.api_key, retry=FAST, client=run.client())
    return AnthropicModel(ANTHROPIC_MODEL, api_key=run.api_key, retry=FAST, client=run.client())


@contextmanager
def _firecrawl(run: CassetteRun, profiles: Path) -> Iterator[Firecrawl]:
    with RunningServer(
        ServerSettings(profiles_dir=profiles, warm_browsers=0),
        model=_model(run),
        agent_settings=quick_agent_settings(model_timeout=30),
    ) as server:
        yield Firecrawl(api_url=server.url, api_key="fc-any-key")


def _conversation(run: CassetteRun, index: int) -> list[tuple[str, str]]:
    """(role, text) of every message of recorded request ``index``, system first."""
    body = run.sent_json(index)
    if run.provider == "openai":
        return [(m["role"], m["content"]) for m in body["messages"]]
    return [("system", _text(body["system"]))] + [
        (m["role"], _text(m["content"])) for m in body["messages"]
    ]


def _text(content: str | list[dict[str, Any]]) -> str:
    return content if isinstance(content, str) else "".join(block["text"] for block in content)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_json_and_summary(
    cassette: CassetteFactory, provider: str, site: str, tmp_path: Path
) -> None:
    with cassette(f"{provider}_scrape_json_summary", provider) as run:
        run.script(_answer(run, json.dumps(KETTLE)), _answer(run, SUMMARY))
        with _firecrawl(run, tmp_path) as firecrawl:
            doc = firecrawl.scrape(
                f"{site}/product.html",
                formats=[{"type": "json", "schema": SCHEMA, "prompt": "Name and price"}, "summary"],
            )
            firecrawl.stop_interaction(doc.metadata.scrape_id)

    assert doc.json == KETTLE
    assert "Blue Kettle" in doc.summary
    usage = doc.metadata.extras["usage"]
    assert (
        usage["model"] == f"{provider}:{OPENAI_MODEL if provider == 'openai' else ANTHROPIC_MODEL}"
    )
    assert usage["inputTokens"] > 0 and usage["outputTokens"] > 0
    [(_, system), (_, page)] = _conversation(run, 0)
    assert system.startswith("You extract data from one web page")
    assert page.startswith("<page>\n# Blue Kettle") and "Name and price" in page
    assert '"required": [\n    "name",\n    "price"\n  ]' in page
    assert _conversation(run, 1)[0][1].startswith("You summarize one web page")
    for index in (0, 1):
        body = run.sent_json(index)
        assert "tools" not in body
        assert body.get("max_completion_tokens", body.get("max_tokens")) == 4096


@pytest.mark.parametrize("provider", PROVIDERS)
def test_json_retried_with_what_was_wrong(
    cassette: CassetteFactory, provider: str, site: str, tmp_path: Path
) -> None:
    """The retry adds the model's own answer and the problems as a new turn, on both wires."""
    with cassette(f"{provider}_scrape_json_retry", provider, live=False) as run:
        run.script(_answer(run, WRONG), _answer(run, json.dumps(KETTLE)))
        with _firecrawl(run, tmp_path) as firecrawl:
            doc: Any = firecrawl.scrape(
                f"{site}/product.html", formats=[{"type": "json", "schema": SCHEMA}]
            )
            firecrawl.stop_interaction(doc.metadata.scrape_id)

    assert doc.json == KETTLE
    roles = [role for role, _ in _conversation(run, 1)]
    assert roles == ["system", "user", "assistant", "user"]
    _, assistant, retry = _conversation(run, 1)[1:]
    assert assistant[1] == WRONG
    assert "at $.price: '39.50 EUR' is not of type 'number'" in retry[1]
