"""A tool of ``tools.SHARED_TOOLS`` is written once and offered by every face: ``drag`` through
the tools' own call, MCP's generated ``browser_drag`` and ``agent browser drag``, on a real page
with HTML drag and drop."""

from __future__ import annotations

from pathlib import Path

from agent.browser.session import BrowserSession
from agent.executors.browser_cli import COMMANDS
from agent.executors.browser_commands import BrowserCommands
from agent.mcp.catalog import BROWSER_TOOLS, mcp_tools
from agent.mcp.context import McpToolContext
from tests.browser.snapshot_lines import ref_of
from tools import SHARED_TOOLS, ToolContext, drag
from tools.base import call_tool


async def fresh(session: BrowserSession, site: str) -> None:
    await session.goto(f"{site}/drag.html")


async def dropped(session: BrowserSession) -> str:
    return await session.page.inner_text("#out")


def test_every_face_offers_every_shared_tool() -> None:
    announced = {t.name: t for t in mcp_tools()}
    declared = {c.name for c in COMMANDS}
    for shared in SHARED_TOOLS:
        assert announced[f"browser_{shared.name}"].description == shared.description
        assert shared.name in declared


async def test_drag_by_refs_through_the_tools_call(session, site):
    await fresh(session, site)
    ctx = ToolContext(session)
    text = (await ctx.snapshot()).text  # results name elements as this snapshot showed them
    card, zone = ref_of(text, 'button "Card"'), ref_of(text, 'region "Done"')
    outcome = await call_tool(drag, ctx, {"target": card, "to": zone})
    assert outcome.content.startswith(f'dragged {card} button "Card" onto {zone} region "Done"')
    assert await dropped(session) == "dropped card"


async def test_drag_over_mcp_takes_selectors_that_match_one_element(session, site):
    await fresh(session, site)
    ctx = McpToolContext(session)
    generated = BROWSER_TOOLS["browser_drag"]
    outcome = await call_tool(generated, ctx, {"target": "#item", "to": "div"})
    assert outcome.is_error and "matches 2 elements" in outcome.content
    outcome = await call_tool(generated, ctx, {"target": "#item", "to": "#zone"})
    assert outcome.content == "dragged '#item' onto '#zone'" and not outcome.is_error
    assert await dropped(session) == "dropped card"


async def test_agent_browser_drag(session, site, tmp_path: Path):
    await fresh(session, site)
    said = await BrowserCommands(tmp_path).run(session, "drag", {"target": "#item", "to": "#zone"})
    assert said == "dragged #item onto #zone"
    assert await dropped(session) == "dropped card"
