"""The one fallback for a Playwright error no tool foresaw (``tools.base.guarded``): every face
gets ``NAME failed: REASON`` (the planner as is, ``agent browser`` as its one-line reason), and a
lost browser is ``SessionLostError``, not text. On a real page: an SVG document has no body, so
reading the page's text waits for one until the action timeout."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.browser.session import BrowserSession
from agent.errors import SessionLostError, ToolError
from agent.executors.browser_commands import BrowserCommands
from tools import ToolContext, default_toolbox
from tools.base import guarded


async def test_an_unforeseen_playwright_error_is_text_for_the_planner(session, site):
    await session.goto(f"{site}/drawing.svg")
    outcome = await default_toolbox().call(ToolContext(session), "get_text", {})
    assert outcome.is_error and outcome.failure is not None
    assert outcome.content == f"get_text failed: {outcome.failure}"
    assert "Timeout" in outcome.failure


async def test_agent_browser_says_the_same_failure_in_one_line(session, site, tmp_path):
    await session.goto(f"{site}/drawing.svg")
    with pytest.raises(ToolError, match="Timeout") as failed:
        await BrowserCommands(Path(tmp_path)).run(session, "get", {"what": "text"})
    assert "\n" not in str(failed.value)


async def test_a_lost_browser_is_raised_not_worded(site):
    lost = await BrowserSession.start(action_timeout_s=2.0)
    try:
        await lost.goto(f"{site}/form.html")
        ctx = ToolContext(lost)
        page = lost.page
        await lost.close()  # the browser is gone while the call still holds its page

        async def read() -> str:
            return await page.inner_text("body")

        with pytest.raises(SessionLostError, match="died"):
            await guarded(ctx, "get_text", read)
    finally:
        await lost.close()
