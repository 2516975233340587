"""The one target resolution every face uses (``tools.targets``) and its one error vocabulary,
and the actions' "what changed", on a real page in a real Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.browser.session import BrowserSession
from agent.errors import ToolError
from agent.executors.browser_commands import BrowserCommands
from tests.browser.snapshot_lines import ref_of
from tools import ToolContext
from tools import element_actions as act
from tools.targets import (
    RefTarget,
    SelectorTarget,
    TargetError,
    count_matches,
    focused,
    parse_target,
    resolve,
    resolve_all,
)


async def fresh(session: BrowserSession, site: str) -> tuple[ToolContext, str]:
    """A context on a fresh copy of the targets page, and its snapshot (for refs)."""
    while len(session.tabs) > 1:
        await session.tabs[-1].close()
    session.switch_to(session.tabs[0])
    await session.goto(f"{site}/targets.html")
    ctx = ToolContext(session)
    return ctx, (await ctx.snapshot()).text


async def out(session: BrowserSession) -> str:
    return (await session.page.inner_text("#out")).strip()


def test_a_target_is_a_ref_when_spelled_as_one_else_a_selector() -> None:
    assert parse_target("@e3") == RefTarget("@e3")
    assert parse_target("ref=e3") == RefTarget("ref=e3")
    assert parse_target("#go") == SelectorTarget("#go", "one")
    assert parse_target("#go", match="first", label="#go") == SelectorTarget("#go", "first", "#go")


async def test_a_ref_goes_through_the_registry_and_is_named_as_the_snapshot_showed_it(
    session, site
):
    ctx, text = await fresh(session, site)
    ref = ref_of(text, 'button "Solo"')
    found = await resolve(ctx, RefTarget(ref))
    assert found.label == f'{ref} button "Solo"'
    clicked = await act.click(ctx, found)
    assert clicked.content == f'clicked {ref} button "Solo"' and not clicked.is_error
    assert await out(session) == "solo"
    assert await count_matches(ctx, RefTarget(ref)) == 1


async def test_a_stale_or_unknown_ref_is_refused_saying_so(session, site):
    ctx, text = await fresh(session, site)
    ref = ref_of(text, 'button "Solo"')
    await session.page.evaluate("document.querySelector('#solo').remove()")
    with pytest.raises(ToolError, match="stale ref"):
        await resolve(ctx, RefTarget(ref))
    with pytest.raises(ToolError, match="never in a snapshot"):
        await resolve(ctx, RefTarget("@e99999"))


async def test_a_selector_for_one_element_must_match_exactly_one(session, site):
    ctx, _ = await fresh(session, site)
    found = await resolve(ctx, SelectorTarget("#solo"))
    assert found.label == "'#solo'"
    with pytest.raises(TargetError, match=r"'\.pick' matches 3 elements") as several:
        await resolve(ctx, SelectorTarget(".pick"))
    assert "Use a ref" in str(several.value)
    with pytest.raises(TargetError, match="No element matches the CSS selector '#nope'") as none:
        await resolve(ctx, SelectorTarget("#nope"))
    assert none.value.problem == "No element matches the CSS selector '#nope'."
    with pytest.raises(TargetError, match="not a valid CSS selector"):
        await resolve(ctx, SelectorTarget("[[["))


async def test_first_takes_the_first_match_and_names_it_as_written(session, site):
    ctx, _ = await fresh(session, site)
    found = await resolve(ctx, SelectorTarget(".pick", "first", label=".pick"))
    assert found.label == ".pick"
    await act.click(ctx, found)
    assert await out(session) == "1"
    with pytest.raises(TargetError, match="No element matches"):
        await resolve(ctx, SelectorTarget("#nope", "first"))


async def test_all_gives_every_match_and_none_is_no_error(session, site):
    ctx, _ = await fresh(session, site)
    matches = await resolve_all(ctx, SelectorTarget(".pick", "all"))
    assert [m.label for m in matches] == [f"'.pick' (match {n})" for n in (1, 2, 3)]
    assert await resolve_all(ctx, SelectorTarget(".nothing", "all")) == []
    with pytest.raises(TargetError, match="not a valid CSS selector"):
        await resolve_all(ctx, SelectorTarget("[[[", "all"))
    assert await count_matches(ctx, SelectorTarget(".pick")) == 3
    with pytest.raises(ToolError, match="is not visible"):  # the hidden third
        await act.click(ctx, matches[2])


@pytest.mark.parametrize(
    ("selector", "problem"),
    [("#locked", "is disabled"), ("#under", "is covered by another element")],
)
async def test_what_cannot_be_acted_on_is_said_once_for_every_target(
    session, site, selector, problem
):
    ctx, _ = await fresh(session, site)
    for target in (SelectorTarget(selector), parse_target(selector, match="first")):
        with pytest.raises(ToolError, match=problem):
            await act.click(ctx, await resolve(ctx, target))
    assert await out(session) == ""


async def test_the_focused_element_is_where_keys_go(session, site):
    ctx, _ = await fresh(session, site)
    assert await focused(ctx) is None
    await session.page.focus("#name")
    found = await focused(ctx)
    assert found is not None and found.label == "the focused element"
    await act.send_keys(ctx, found, text="Ada", settle_after=False)
    assert await session.page.input_value("#name") == "Ada"


async def test_enter_on_a_new_tab_link_reports_the_tab(session, site):
    ctx, _ = await fresh(session, site)
    pressed = await act.press(ctx, "Enter", await resolve(ctx, SelectorTarget("#newtab")))
    assert pressed.content.startswith(
        "pressed Enter on '#newtab'; a new tab opened and is now the current page: "
    )
    assert pressed.changes.new_tab is not None and pressed.changes.new_tab.endswith("page2.html")


async def test_agent_browser_click_on_a_selector_says_what_changed_as_the_others_do(
    session, site, tmp_path: Path
):
    await fresh(session, site)
    commands = BrowserCommands(tmp_path)
    said = await commands.run(session, "click", {"target": "#next"})
    assert said == f"clicked #next; the page navigated to {site}/page2.html"
