"""The live view, opened in a second headless Chromium: it shows the session's page, in an iframe
too, and the interactive one forwards clicks and key presses to it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import Page, sync_playwright

from agent.browser.launch import QUIET_FLAGS, find_chromium
from tests.harness import RunningServer, assert_error, wait_until

WIDTH, HEIGHT = 1280, 800  # the session's viewport, so the viewer draws frames at scale 1


@pytest.fixture(scope="module")
def live_session(server: RunningServer, site: str) -> Iterator[tuple[str, Any]]:
    """One session for the module's tests (in order: view-only first, then interactive)."""
    from firecrawl import Firecrawl

    firecrawl = Firecrawl(api_url=server.url, api_key="fc-any-key")
    doc = firecrawl.scrape(f"{site}/index.html", formats=["markdown"])
    server.turns.clear()
    server.turns.add("Nothing to do.")
    reply = firecrawl.interact(doc.metadata.scrape_id, prompt="Just look.")
    yield doc.metadata.scrape_id, reply
    firecrawl.stop_interaction(doc.metadata.scrape_id)


@pytest.fixture(scope="module")
def viewer() -> Iterator[Page]:
    """A separate headless Chromium, standing in for a person's browser."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=find_chromium(), args=list(QUIET_FLAGS), headless=True
        )
        page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
        try:
            yield page
        finally:
            browser.close()


def _wait_for_frame(target: Any) -> None:
    target.locator("#screen[src^='data:image/jpeg']").wait_for(timeout=15_000)


def _center(server: RunningServer, scrape_id: str, selector: str) -> tuple[float, float]:
    box = json.loads(
        server.evaluate(
            scrape_id,
            f"JSON.stringify(document.querySelector('{selector}').getBoundingClientRect())",
        )
    )
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def test_live_view_shows_the_page_in_an_iframe(
    server: RunningServer,
    live_session: tuple[str, Any],
    viewer: Page,
    artifacts: Path,
    site: str,
) -> None:
    scrape_id, reply = live_session
    response = httpx.get(reply.live_view_url, timeout=30)
    assert response.status_code == 200
    assert "x-frame-options" not in response.headers
    assert response.headers["content-security-policy"] == "frame-ancestors *"

    # Embedded by a page of another origin (the test site), as an app would embed it.
    viewer.goto(f"{site}/embed.html?src={quote(reply.live_view_url, safe='')}")
    _wait_for_frame(viewer.frame_locator("iframe"))
    viewer.screenshot(path=str(artifacts / "live_view.png"))

    # View-only: a click on the picture of the button does nothing.
    x, y = _center(server, scrape_id, "#inc")
    viewer.mouse.click(x, y)
    time.sleep(0.5)
    assert server.evaluate(scrape_id, "document.querySelector('#count').textContent") == "Count: 0"


def test_interactive_live_view_forwards_clicks_and_keys(
    server: RunningServer, live_session: tuple[str, Any], viewer: Page, artifacts: Path
) -> None:
    scrape_id, reply = live_session
    viewer.goto(reply.interactive_live_view_url)
    _wait_for_frame(viewer)

    viewer.mouse.click(*_center(server, scrape_id, "#inc"))
    wait_until(
        lambda: (
            server.evaluate(scrape_id, "document.querySelector('#count').textContent") == "Count: 1"
        )
    )

    viewer.mouse.click(*_center(server, scrape_id, "#name"))
    viewer.keyboard.type("hello")
    viewer.keyboard.press("Backspace")
    wait_until(
        lambda: server.evaluate(scrape_id, "document.querySelector('#name').value") == "hell"
    )
    # The viewer shows the change: wait for a frame after it, then keep a picture of it.
    time.sleep(0.5)
    viewer.screenshot(path=str(artifacts / "live_view_interactive.png"))


def test_live_view_refuses_bad_tokens_and_unknown_sessions(
    server: RunningServer, live_session: tuple[str, Any]
) -> None:
    scrape_id, _ = live_session
    bad = httpx.get(f"{server.url}/v2/live/{scrape_id}?token=guess", timeout=30)
    assert_error(bad, 403)
    unknown = httpx.get(f"{server.url}/v2/live/not-a-session?token=x", timeout=30)
    assert_error(unknown, 404)
