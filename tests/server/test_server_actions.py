"""Scrape actions through Firecrawl's own Python SDK, on a local page in real Chromium: each
action type, their outputs in ``data.actions``, the session going on from where they left off,
and failing or slow actions answered with the action's index, nothing saved to a profile."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from firecrawl.v2.types import (
    ClickAction,
    ExecuteJavascriptAction,
    PDFAction,
    PressAction,
    ScrapeAction,
    ScreenshotAction,
    ScrollAction,
    WaitAction,
    WriteAction,
)
from firecrawl.v2.utils.error_handler import BadRequestError, RequestTimeoutError

from tests.harness import RunningServer, assert_error


def _decoded(data_url: str, mime: str) -> bytes:
    prefix = f"data:{mime};base64,"
    assert data_url.startswith(prefix), data_url[:60]
    return base64.b64decode(data_url[len(prefix) :])


def test_every_action_type_with_the_sdk_then_interact_goes_on(
    firecrawl: Any, server: RunningServer, site: str
) -> None:
    doc = firecrawl.scrape(
        f"{site}/actions.html",
        formats=["markdown"],
        actions=[
            ClickAction(selector="#q"),
            WriteAction(text="cats"),
            PressAction(key="Enter"),
            WaitAction(selector="#late.ready"),
            WaitAction(milliseconds=50),
            ScrollAction(direction="down"),
            ScreenshotAction(full_page=False, quality=40, viewport={"width": 800, "height": 600}),
            ScrapeAction(),
            ExecuteJavascriptAction(script="return document.querySelector('#result').textContent"),
            ExecuteJavascriptAction(script="return window.scrollY > 0"),
            PDFAction(format="A4", landscape=True, scale=1.0),
        ],
    )
    scrape_id = doc.metadata.scrape_id
    try:
        # The content is the page as the actions left it, not as it loaded.
        assert "Results for cats" in doc.markdown
        assert "Late result for cats" in doc.markdown
        assert doc.warning is None
        outputs = doc.actions
        assert set(outputs) == {"screenshots", "scrapes", "javascriptReturns", "pdfs"}
        [shot] = outputs["screenshots"]
        assert _decoded(shot, "image/jpeg").startswith(b"\xff\xd8")
        [scraped] = outputs["scrapes"]
        assert scraped["url"] == f"{site}/actions.html"
        assert "Late result for cats" in scraped["html"]
        assert outputs["javascriptReturns"] == [
            {"type": "string", "value": "Results for cats"},
            {"type": "boolean", "value": True},
        ]
        [pdf] = outputs["pdfs"]
        assert _decoded(pdf, "application/pdf").startswith(b"%PDF")

        # The session goes on from that page: typed text, pressed key, scroll position, size.
        state = firecrawl.interact(
            scrape_id,
            code="const seen = [await page.inputValue('#q'), await page.textContent('#keys'), "
            "await page.evaluate('window.scrollY > 0'), await page.evaluate('innerWidth')];\n"
            "seen.join('|')",
            language="node",
        )
        assert state.result == "cats|Keys: c a t s Enter|true|800", state
    finally:
        firecrawl.stop_interaction(scrape_id)


def test_click_all_scroll_an_element_and_script_values(server: RunningServer, site: str) -> None:
    """The dicts the SDKs pass through (``all`` is not in their typed ClickAction), over HTTP."""
    tiles = "[...document.querySelectorAll('.tile')].map(b => b.textContent)"
    scripts = [
        "return document.querySelector('#list').scrollTop",
        f"return {{tiles: {tiles}}}",
        "await new Promise(r => setTimeout(r, 20)); document.title = 'Changed'",
        "return null",
    ]
    response = server.scrape(
        f"{site}/actions.html",
        formats=["rawHtml"],
        actions=[
            {"type": "click", "selector": ".tile", "all": True},
            {"type": "scroll", "selector": "#list", "direction": "down"},
            {"type": "scroll", "selector": "#list", "direction": "up"},
            {"type": "scroll", "selector": "#list"},
            *({"type": "executeJavascript", "script": script} for script in scripts),
        ],
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    server.stop_session(data["metadata"]["scrapeId"])
    returns = data["actions"]["javascriptReturns"]
    assert returns[0]["type"] == "number" and returns[0]["value"] > 0  # down, up, down: one box
    assert returns[1:] == [
        {"type": "object", "value": {"tiles": ["on", "on", "on"]}},
        {"type": "undefined", "value": None},
        {"type": "null", "value": None},
    ]
    assert data["actions"]["screenshots"] == data["actions"]["pdfs"] == []
    assert data["metadata"]["title"] == "Changed"
    assert data["rawHtml"].count(">on</button>") == 3


def _click_all(server: RunningServer, url: str, selector: str) -> list[str]:
    """Over HTTP, as the test above: firecrawl-py's typed ClickAction drops ``all``. The ids of
    the elements the page saw clicked, in order."""
    response = server.scrape(
        url,
        formats=["markdown"],
        actions=[
            {"type": "click", "selector": selector, "all": True},
            {"type": "executeJavascript", "script": "return window.clicked"},
        ],
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    server.stop_session(data["metadata"]["scrapeId"])
    [clicked] = data["actions"]["javascriptReturns"]
    return list(clicked["value"])


def test_click_all_with_no_match_succeeds(server: RunningServer, site: str) -> None:
    """Firecrawl's v2 API: ``all`` "does not throw an error if no elements match"."""
    assert _click_all(server, f"{site}/click_all.html", ".no-such-chip") == []


def test_click_all_clicks_the_visible_matches_and_skips_hidden_or_covered_ones(
    server: RunningServer, site: str
) -> None:
    # Skipped: one under another element, one display:none, one visibility:hidden.
    assert _click_all(server, f"{site}/click_all.html", ".chip") == ["one", "two", "three"]


def test_an_action_that_navigates_and_no_actions_no_outputs(
    server: RunningServer, site: str
) -> None:
    response = server.scrape(
        f"{site}/actions.html",
        formats=["markdown"],
        actions=[{"type": "click", "selector": "#next"}, {"type": "scrape"}],
    )
    data = response.json()["data"]
    scrape_id = data["metadata"]["scrapeId"]
    try:
        assert response.status_code == 200, response.text
        assert data["metadata"]["url"] == f"{site}/other.html"
        assert data["metadata"]["sourceURL"] == f"{site}/actions.html"
        assert data["metadata"]["title"] == "Other page"
        assert data["markdown"].startswith("# Other page")
        assert data["actions"]["scrapes"][0]["url"] == f"{site}/other.html"
        url = server.interact(scrape_id, code="page.url()", language="node").json()["result"]
        assert url == f"{site}/other.html"
    finally:
        server.stop_session(scrape_id)
    plain = server.scrape(f"{site}/other.html", actions=[])
    server.stop_session(plain.json()["data"]["metadata"]["scrapeId"])
    assert "actions" not in plain.json()["data"], "no actions: no data.actions, as Firecrawl"


FAILING = {
    "no-match": ("", [{"type": "click", "selector": "#missing"}],
                 ["actions[0] (click '#missing')", "No element matches"]),
    "write-without-focus": ("", [{"type": "scroll"}, {"type": "write", "text": "x"}],
                            ["actions[1] (write 'x')", "click action on the field"]),
    "script-throws": ("", [{"type": "executeJavascript", "script": "throw new Error('boom')"}],
                      ["actions[0] (executeJavascript)", "threw Error: boom"]),
    "unknown-key": ("", [{"type": "click", "selector": "#q"}, {"type": "press", "key": "Nope"}],
                    ["actions[1] (press 'Nope')", "Unknown key", "Enter, Tab"]),
    "covered": ("#covered", [{"type": "click", "selector": "#covered"}],
                ["actions[0]", "covered by another element: div#cover"]),
    "bad-selector": ("", [{"type": "wait", "selector": "!!"}], ["actions[0] (wait for '!!')"]),
}  # fmt: skip


@pytest.mark.parametrize(("page", "actions", "fragments"), FAILING.values(), ids=FAILING.keys())
def test_a_failing_action_is_a_400_naming_it(
    server: RunningServer, site: str, page: str, actions: list[dict[str, Any]], fragments: list[str]
) -> None:
    sessions = len(server.registry)
    response = server.scrape(f"{site}/actions.html{page}", actions=actions)
    body = assert_error(response, 400, *fragments)
    assert body["code"] == "SCRAPE_ACTION_ERROR"
    assert body["details"]["index"] == len(actions) - 1
    assert len(server.registry) == sessions, "the failed scrape's session was closed"


def test_the_sdk_raises_on_a_failing_action(firecrawl: Any, site: str) -> None:
    with pytest.raises(BadRequestError) as raised:
        firecrawl.scrape(f"{site}/actions.html", actions=[ClickAction(selector="#nope")])
    assert raised.value.status_code == 400 and raised.value.code == "SCRAPE_ACTION_ERROR"
    assert "actions[0] (click '#nope') failed" in str(raised.value)


@pytest.mark.parametrize(
    ("action", "fragment"),
    [
        ({"type": "wait", "selector": "#never"}, "actions[1] (wait for '#never')"),
        (
            {"type": "executeJavascript", "script": "await new Promise(() => {})"},
            "actions[1] (executeJavascript)",
        ),
    ],
    ids=["selector-never-appears", "script-never-returns"],
)
def test_actions_stay_within_the_scrape_timeout(
    firecrawl: Any, site: str, action: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(RequestTimeoutError) as raised:
        firecrawl.scrape(
            f"{site}/actions.html",
            timeout=2000,
            actions=[{"type": "scroll", "direction": "down"}, action],
        )
    assert raised.value.status_code == 408 and raised.value.code == "SCRAPE_TIMEOUT"
    assert f"Scrape timed out during {fragment}" in str(raised.value)
    assert "the scrape's 2 s ran out" in str(raised.value)


def test_a_failed_scrape_saves_nothing_to_its_profile(server: RunningServer, site: str) -> None:
    profile = {"name": "half-saved", "saveChanges": True}
    stored = "token=none cookie=sid=none"
    response = server.scrape(
        f"{site}/storage.html?set=half",  # the page itself stores a token and a cookie
        profile=profile,
        actions=[
            {"type": "executeJavascript", "script": "localStorage.setItem('more', '1')"},
            {"type": "click", "selector": "#no-such-button"},
        ],
    )
    assert_error(response, 400, "actions[1]")
    later = server.scrape(f"{site}/storage.html", profile={**profile, "saveChanges": False})
    scrape_id = later.json()["data"]["metadata"]["scrapeId"]
    try:
        assert server.evaluate(scrape_id, "document.getElementById('out').textContent") == stored
        assert server.evaluate(scrape_id, "localStorage.getItem('more')") is None
    finally:
        server.stop_session(scrape_id)
    # The writer's lease went with the failed session: a new writer is let in.
    writer = server.scrape(f"{site}/other.html", profile=profile)
    server.stop_session(writer.json()["data"]["metadata"]["scrapeId"])
    assert writer.status_code == 200, writer.text
