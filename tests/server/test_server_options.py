"""No scrape option disappears without a word: what this server does not apply is named in
``data.warning``, a key Firecrawl does not know is a 400 naming it, and what cannot be honoured
safely (cache-only scrapes, PII redaction) is refused. Real SDK bodies are accepted as sent."""

from __future__ import annotations

from typing import Any

import pytest

from agent.service.schemas import ScrapeRequest
from tests.harness import RunningServer, assert_error

NEVER_LOADED = "http://127.0.0.1:9/never-loaded"


def test_a_plain_sdk_scrape_has_no_warning(firecrawl: Any, site: str) -> None:
    """firecrawl-py sends maxAge, storeInCache, fastMode: false, ... with every scrape."""
    doc = firecrawl.scrape(f"{site}/other.html", formats=["markdown"])
    firecrawl.stop_interaction(doc.metadata.scrape_id)
    assert doc.warning is None


def test_options_this_server_does_not_apply_are_named_in_the_warning(
    firecrawl: Any, site: str
) -> None:
    doc = firecrawl.scrape(
        f"{site}/other.html",
        formats=["markdown"],
        location={"country": "DE", "languages": ["de-DE"]},
        proxy="stealth",
        parsers=["pdf"],
        fast_mode=True,
        check_prompt_injection=True,
    )
    firecrawl.stop_interaction(doc.metadata.scrape_id)
    assert doc.markdown.startswith("# Other page"), "the scrape itself still happened"
    assert doc.warning.startswith("This server does not apply these options, so they were ignored:")
    for named in (
        "location (pages load from this server's own network",
        "proxy (no proxy is used",
        "parsers (PDFs and images are not parsed",
        "fastMode (",
        "checkPromptInjection (the page is not scanned",
    ):
        assert named in doc.warning, doc.warning


def test_an_unknown_option_is_a_400_naming_it(server: RunningServer) -> None:
    """firecrawl-py cannot send one (its options are typed); firecrawl-js can, see its test."""
    response = server.scrape(NEVER_LOADED, onlyMainContnet=False)
    body = assert_error(response, 400, "unknown field 'onlyMainContnet'", "camelCase")
    assert body["details"][0]["path"] == ["onlyMainContnet"]
    inside = server.scrape(NEVER_LOADED, actions=[{"type": "click", "selector": "#go", "delay": 5}])
    assert_error(inside, 400, "actions.0.click.delay: unknown field 'delay'")


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"lockdown": True}, 404, "this server keeps no cache"),
        ({"minAge": 1000}, 404, "Drop minAge"),
        ({"redactPII": True}, 400, "redactPII is not supported"),
        ({"redactPII": {"mode": "fast"}}, 400, "unredacted"),
        ({"actions": [{"type": "wait", "milliseconds": 1, "selector": "#a"}]}, 400,
         "Either 'milliseconds' or 'selector' must be provided, but not both."),
        ({"actions": [{"type": "wait"}]}, 400, "Either 'milliseconds' or 'selector'"),
        ({"actions": [{"type": "hover", "selector": "#a"}]}, 400,
         "does not match any of the expected tags"),
        ({"actions": [{"type": "click"}]}, 400, "actions.0.click.selector"),
        ({"actions": [{"type": "scroll", "direction": "left"}]}, 400, "direction"),
        ({"actions": [{"type": "pdf", "scale": 5}]}, 400, "scale"),
        ({"actions": [{"type": "scrape"}] * 51}, 400, "Number of actions cannot exceed 50"),
        ({"waitFor": 30_000, "actions": [{"type": "wait", "milliseconds": 31_000}]}, 400,
         "Total wait time (waitFor + wait actions) cannot exceed 60 seconds"),
        ({"timeout": 4000, "waitFor": 3000}, 400, "waitFor must not exceed half of timeout"),
        ({"formats": ["screenshot", {"type": "screenshot", "fullPage": True}]}, 400,
         "You may only specify one screenshot format"),
        ({"formats": ["changeTracking"]}, 400, "'changeTracking' is not supported by this server"),
        ({"formats": [{"type": "markdown", "fullPage": True}]}, 400, "unknown field 'fullPage'"),
        ({"profile": {"name": "p", "save": True}}, 400, "unknown field 'save'"),
        ({"proxy": "residential"}, 400, "proxy"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)  # fmt: skip
def test_refused_before_a_session_opens(
    server: RunningServer, body: dict[str, Any], status: int, fragment: str
) -> None:
    sessions = len(server.registry)
    response = server.scrape(NEVER_LOADED, **body)
    assert_error(response, status, fragment)
    assert len(server.registry) == sessions


def test_the_bodies_the_sdks_send_are_accepted() -> None:
    """As recorded from firecrawl-py 4.55 (typed classes) and firecrawl-js 4.42."""
    py_body = {
        "url": "https://example.com", "onlyMainContent": True, "removeBase64Images": True,
        "fastMode": False, "blockAds": True, "storeInCache": True, "maxAge": 14400000,
        "formats": [
            "markdown",
            {"type": "json", "prompt": "Extract title", "checkPromptInjection": None,
             "schema": {"type": "object", "properties": {"title": {"type": "string"}},
                        "required": ["title"]}},
            {"type": "screenshot", "fullPage": True}, "summary",
        ],
        "actions": [
            {"type": "wait", "milliseconds": 500}, {"type": "click", "selector": "#btn"},
            {"type": "write", "text": "hi"}, {"type": "press", "key": "Enter"},
            {"type": "scroll", "direction": "down", "selector": "#list"},
            {"type": "screenshot", "fullPage": True, "quality": 80,
             "viewport": {"width": 1280, "height": 800}},
            {"type": "scrape"}, {"type": "executeJavascript", "script": "return 1+1"},
            {"type": "pdf", "format": "A4", "landscape": True, "scale": 1.0},
        ],
        "mobile": False, "origin": "python-sdk@4.55.0",
    }  # fmt: skip
    js_actions = [
        {"type": "wait", "selector": "#x"}, {"type": "scroll", "direction": "down"},
        {"type": "pdf", "format": "A4", "landscape": False, "scale": 1},
        {"type": "click", "selector": "#btn", "all": True},
    ]  # fmt: skip
    request = ScrapeRequest.model_validate(py_body)
    assert request.format_names() == {"markdown", "json", "screenshot", "summary"}
    assert [action.type for action in request.actions][:3] == ["wait", "click", "write"]
    assert request.not_applied_warning() is None
    js = ScrapeRequest.model_validate(
        {"url": "https://example.com", "actions": js_actions, "origin": "js-sdk@4.42.0"}
    )
    assert len(js.actions) == 4
