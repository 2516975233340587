"""The json and summary formats through Firecrawl's own Python SDK, answered by the scripted
model: a schema, a prompt, both; a summary; an answer checked against the schema, retried once,
then refused; what the model is sent; usage in metadata; no model configured."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from firecrawl.v2.types import JsonFormat
from firecrawl.v2.utils.error_handler import FirecrawlError

from agent.errors import ModelRateLimitError
from agent.messages import AssistantMessage, Message, SystemMessage, Usage, UserMessage
from agent.models import ScriptedModel, ScriptedTurn
from agent.server import ServerSettings
from tests.harness import RunningServer, Turns, assert_error, quick_agent_settings

SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "price": {"type": "number"},
        "inStock": {"type": "boolean"},
    },
    "required": ["name", "price"],
}
KETTLE = {"name": "Blue Kettle", "price": 39.5, "inStock": True}


def _requests_since(server: RunningServer, before: int) -> list[Any]:
    model = server.model
    assert isinstance(model, ScriptedModel)
    return model.requests[before:]


def _asked(server: RunningServer) -> int:
    model = server.model
    assert isinstance(model, ScriptedModel)
    return len(model.requests)


def test_json_with_a_schema_and_a_prompt(
    firecrawl: Any, server: RunningServer, script: Turns, site: str
) -> None:
    before = _asked(server)
    script.add(ScriptedTurn(text=json.dumps(KETTLE), usage=Usage(input=1200, output=30)))
    doc = firecrawl.scrape(
        f"{site}/product.html",
        # The typed JsonFormat sends checkPromptInjection: null.
        formats=["markdown", JsonFormat(schema=SCHEMA, prompt="The kettle's name and price.")],
    )
    firecrawl.stop_interaction(doc.metadata.scrape_id)
    assert doc.json == KETTLE
    assert doc.markdown.startswith("# Blue Kettle")
    assert doc.warning is None
    assert doc.metadata.extras["usage"] == {
        "model": "scripted",
        "inputTokens": 1200,
        "outputTokens": 30,
        "cachedTokens": 0,
    }

    [request] = _requests_since(server, before)
    system, user = request.messages
    assert isinstance(system, SystemMessage) and "JSON Schema" in system.content
    assert isinstance(user, UserMessage)
    assert "<page>\n# Blue Kettle" in user.content and "39.50 EUR" in user.content
    assert "The kettle's name and price." in user.content
    assert json.dumps(SCHEMA, indent=2) in user.content
    assert request.tools == ()
    assert request.settings.max_output_tokens >= 4096


def test_json_from_a_prompt_and_a_summary_without_markdown(
    firecrawl: Any, server: RunningServer, script: Turns, site: str
) -> None:
    before = _asked(server)
    script.add(
        'Here it is:\n```json\n{"product": "Blue Kettle", "litres": 1.7}\n```',
        "A product page for the Blue Kettle, a 1.7 litre electric kettle at 39.50 EUR.",
    )
    doc = firecrawl.scrape(
        f"{site}/product.html",
        formats=[{"type": "json", "prompt": "Product name and volume in litres"}, "summary"],
    )
    firecrawl.stop_interaction(doc.metadata.scrape_id)
    assert doc.json == {"product": "Blue Kettle", "litres": 1.7}  # fence and preamble dropped
    assert doc.summary.startswith("A product page for the Blue Kettle")
    assert doc.markdown is None, "markdown was not asked for: the model still read the page"
    json_request, summary_request = _requests_since(server, before)
    assert "Product name and volume" in json_request.messages[1].content
    assert "# JSON Schema" not in json_request.messages[1].content
    assert "summarize" in summary_request.messages[0].content.lower()
    assert "<page>\n# Blue Kettle" in summary_request.messages[1].content


def test_a_non_conforming_answer_is_retried_once_with_what_was_wrong(
    firecrawl: Any, server: RunningServer, script: Turns, site: str
) -> None:
    before = _asked(server)
    script.add('{"name": "Blue Kettle", "price": "39.50 EUR"}', json.dumps(KETTLE))
    doc = firecrawl.scrape(f"{site}/product.html", formats=[{"type": "json", "schema": SCHEMA}])
    firecrawl.stop_interaction(doc.metadata.scrape_id)
    assert doc.json == KETTLE
    _first, retry = _requests_since(server, before)
    assert len(retry.messages) == 4
    assert retry.messages[2] == AssistantMessage(
        text='{"name": "Blue Kettle", "price": "39.50 EUR"}'
    )
    assert "at $.price: '39.50 EUR' is not of type 'number'" in retry.messages[3].content


def test_a_second_non_conforming_answer_is_a_422(
    firecrawl: Any, server: RunningServer, script: Turns, site: str
) -> None:
    sessions = len(server.registry)
    script.add("I could not find a price.", '{"name": "Blue Kettle"}')
    with pytest.raises(FirecrawlError) as raised:
        firecrawl.scrape(f"{site}/product.html", formats=[{"type": "json", "schema": SCHEMA}])
    assert raised.value.status_code == 422 and raised.value.code == "SCRAPE_JSON_SCHEMA_MISMATCH"
    assert "at $: 'price' is a required property" in str(raised.value)
    assert len(server.registry) == sessions

    script.add("[1, 2", "still not JSON")
    response = server.scrape(f"{site}/product.html", formats=[{"type": "json", "schema": SCHEMA}])
    body = assert_error(response, 422, "did not match the json format's schema", "not JSON")
    assert body["details"]["answer"] == "still not JSON"


def test_a_page_without_text_is_not_sent_to_the_model(
    server: RunningServer, script: Turns, site: str
) -> None:
    before = _asked(server)
    response = server.scrape(
        f"{site}/empty.html", formats=["summary", {"type": "json", "prompt": "x"}]
    )
    data = response.json()["data"]
    server.stop_session(data["metadata"]["scrapeId"])
    assert "json" not in data and "summary" not in data
    assert data["warning"] == (
        "The page has no text content, so the json and summary formats were not produced."
    )
    assert _asked(server) == before


def test_a_failing_model_backend_is_a_503(server: RunningServer, script: Turns, site: str) -> None:
    def rate_limited(_messages: Sequence[Message]) -> str:
        raise ModelRateLimitError(
            "openai model 'x' answered HTTP 429: slow down.", provider="openai", status=429
        )

    script.add(rate_limited)
    response = server.scrape(f"{site}/product.html", formats=["summary"])
    body = assert_error(response, 503, "the summary format was not produced", "HTTP 429")
    assert body["code"] == "MODEL_BACKEND_ERROR"
    assert body["details"] == {"provider": "openai", "status": 429}


def test_an_explicit_timeout_bounds_the_model_too(
    server: RunningServer, script: Turns, site: str
) -> None:
    async def slow(_messages: Sequence[Message]) -> str:
        await asyncio.sleep(6)
        return "{}"

    script.add(slow)
    response = server.scrape(
        f"{site}/product.html", formats=[{"type": "json", "prompt": "x"}], timeout=2500
    )
    assert_error(response, 408, "the model did not produce the json or summary format")


def test_no_model_configured_is_the_same_503_as_for_a_prompt(tmp_path: Path, site: str) -> None:
    with RunningServer(
        ServerSettings(profiles_dir=tmp_path, warm_browsers=0),
        agent_settings=quick_agent_settings(model=None),
        scripted=False,
    ) as unconfigured:
        refused = unconfigured.scrape(f"{site}/product.html", formats=["summary"])
        body = assert_error(refused, 503, "No model configured", "AGENT_MODEL")
        assert body["code"] == "CONFIG_ERROR"
        assert unconfigured.launches == 0, "refused before a browser was started"

        scrape_id = unconfigured.scrape_id(f"{site}/product.html")
        prompted = unconfigured.interact(scrape_id, prompt="What does it cost?")
        unconfigured.stop_session(scrape_id)
        assert assert_error(prompted, 503)["error"] == body["error"]


BAD_JSON_FORMATS = {
    "neither": ({"type": "json"}, "needs a 'schema'"),
    "invalid-schema": ({"type": "json", "schema": {"type": "object", "required": "name"}},
                       "not a valid JSON Schema"),
    "remote-ref": ({"type": "json", "schema": {"$ref": "http://127.0.0.1:9/x.json"}},
                   "only references within"),
    "unknown-key": ({"type": "json", "prompt": "x", "model": "gpt-4o"}, "unknown field 'model'"),
}  # fmt: skip


@pytest.mark.parametrize(
    ("fmt", "fragment"), BAD_JSON_FORMATS.values(), ids=BAD_JSON_FORMATS.keys()
)
def test_a_bad_json_format_is_a_400(
    server: RunningServer, fmt: dict[str, Any], fragment: str
) -> None:
    response = server.scrape("http://127.0.0.1:9/never-loaded", formats=[fmt])
    assert_error(response, 400, fragment)
