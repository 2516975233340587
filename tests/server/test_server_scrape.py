"""POST /v2/scrape through Firecrawl's own Python SDK: every format, metadata, status codes."""

from __future__ import annotations

import base64
import uuid
from typing import Any

from tests.harness import RunningServer


def test_scrape_every_format_with_the_sdk(firecrawl: Any, site: str) -> None:
    doc = firecrawl.scrape(
        f"{site}/index.html",
        formats=["markdown", "html", "rawHtml", "links", "images", {"type": "screenshot"}],
    )
    try:
        meta = doc.metadata
        assert uuid.UUID(meta.scrape_id)
        assert meta.title == "Server Test Page"
        assert meta.description == "A page for the server tests."
        assert meta.og_title == "OG Server Test"
        assert meta.language == "en"
        assert meta.status_code == 200
        assert meta.source_url == f"{site}/index.html"
        assert meta.url == f"{site}/index.html"
        assert meta.favicon == f"{site}/favicon.png"

        # onlyMainContent is the SDK's default: navigation and footer are gone.
        assert "# Main heading" in doc.markdown
        assert f"[relative link]({site}/other.html#section)" in doc.markdown
        assert "Navigation link" not in doc.markdown
        assert "Footer text" not in doc.markdown
        assert "<Base64-Image-Removed>" in doc.markdown  # removeBase64Images defaults to true
        assert "<h1>Main heading</h1>" in doc.html
        assert "<script" not in doc.html
        assert "Footer text" in doc.raw_html and "<script>" in doc.raw_html

        assert f"{site}/other.html" in doc.links  # absolute, without the fragment
        assert "https://example.org/abs" in doc.links
        assert f"{site}/nav-only.html" in doc.links  # links come from the whole page
        assert doc.images == [f"{site}/images/cat.png"]

        assert doc.screenshot.startswith("data:image/png;base64,")
        png = base64.b64decode(doc.screenshot.split(",", 1)[1])
        assert png.startswith(b"\x89PNG")
    finally:
        firecrawl.stop_interaction(doc.metadata.scrape_id)


def test_scrape_full_page_screenshot_and_whole_page(firecrawl: Any, site: str) -> None:
    doc = firecrawl.scrape(
        f"{site}/index.html",
        formats=["markdown", {"type": "screenshot", "fullPage": True, "quality": 60}],
        only_main_content=False,
        remove_base64_images=False,
    )
    firecrawl.stop_interaction(doc.metadata.scrape_id)
    assert "Navigation link" in doc.markdown and "Footer text" in doc.markdown
    assert "data:image/png;base64," in doc.markdown
    assert doc.screenshot.startswith("data:image/jpeg;base64,")


def test_target_errors_are_status_codes_not_failures(firecrawl: Any, site: str) -> None:
    for code in (404, 500):
        doc = firecrawl.scrape(f"{site}/status/{code}", formats=["markdown"])
        firecrawl.stop_interaction(doc.metadata.scrape_id)
        assert doc.metadata.status_code == code
        assert f"Error page {code}" in doc.markdown


def test_scrape_over_raw_http(server: RunningServer, site: str) -> None:
    """The wire shape: camelCase, include/exclude tags, mobile, no actions."""
    body = {
        "url": f"{site}/index.html",
        "formats": ["markdown", "rawHtml"],
        "includeTags": ["main"],
        "excludeTags": ["#count"],
        "mobile": True,
        "headers": {"X-Test": "yes"},
        "actions": [],
    }
    response = server.post("/v2/scrape", json=body)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    scrape_id = data["metadata"]["scrapeId"]
    try:
        assert response.json()["success"] is True
        assert "Main heading" in data["markdown"]
        assert "Count: 0" not in data["markdown"]
        assert data["metadata"]["statusCode"] == 200
        assert data["metadata"]["sourceURL"] == body["url"]
        assert data["metadata"]["contentType"].startswith("text/html")
        assert "html" not in data and "links" not in data
        assert "actions" not in data and "warning" not in data
        width = server.evaluate(scrape_id, "screen.width")
        assert width < 600, "mobile: true emulates a phone-sized screen"
        assert "Mobile" in server.evaluate(scrape_id, "navigator.userAgent")
    finally:
        server.stop_session(scrape_id)


def test_block_ads_blocks_ad_hosts(server: RunningServer, site: str) -> None:
    async def failed_requests(scrape_id: str) -> list[tuple[str, str | None]]:
        page = server.session(scrape_id).browser_session.page
        failed: list[tuple[str, str | None]] = []
        page.on("requestfailed", lambda r: failed.append((r.url, r.failure)))
        await page.reload()
        await page.wait_for_timeout(300)
        return failed

    for block, reason in ((True, "inspector"), (False, "net::ERR_NAME_NOT_RESOLVED")):
        scrape_id = server.scrape_id(f"{site}/ads.html", blockAds=block)
        try:
            failed = server.run(failed_requests(scrape_id))
        finally:
            server.stop_session(scrape_id)
        # "inspector": refused by the DevTools block list before any DNS lookup.
        assert ("http://ads.doubleclick.net/pixel.png", reason) in failed
