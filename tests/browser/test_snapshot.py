"""The @eN snapshot on real pages in the real browser."""

from __future__ import annotations

import re

import pytest

from agent.browser import grammar
from agent.browser.aria_tree import parse_aria_snapshot
from agent.browser.session import BrowserSession
from agent.browser.snapshot import INTERACTIVE_ROLES
from agent.errors import StaleRefError, UnknownRefError
from tests.browser.snapshot_lines import ref_of


async def open_page(session: BrowserSession, url: str) -> None:
    await session.goto(url)


def test_a_line_without_a_ref_is_an_element_only_when_a_role_and_a_quoted_name_start_it():
    lines = grammar.parse_snapshot(
        'rowheader "Genre"\n  cell\n    @e2 textbox (placeholder "e.g. drama")\n'
        'generic\nsay "hello" twice\nThe end'
    )
    header, cell, box, bare, said, plain = lines
    assert (header.ref, header.role, header.name) == (None, "rowheader", "Genre")
    assert (cell.role, cell.text, cell.depth) == ("", "cell", 1)
    assert (box.ref, box.role, box.placeholder, box.depth) == ("@e2", "textbox", "e.g. drama", 2)
    # A bare role word and text that merely starts with a word are plain text.
    assert [line.role for line in (bare, said, plain)] == ["", "", ""]
    assert said.text == 'say "hello" twice'


async def test_full_snapshot_shows_text_headings_and_form_state(session, site):
    await open_page(session, f"{site}/form.html")
    await session.page.fill("#name", "Ada")
    await session.page.check("#agree")
    shot = await session.snapshot()
    text = shot.text
    assert "# Sign up" in text
    assert "This paragraph has some words in it" in text
    assert re.search(r'@e\d+ textbox "Name" = "Ada"', text)
    assert re.search(r'@e\d+ checkbox "I agree" \[checked\]', text)
    assert re.search(
        r'@e\d+ combobox "Size" = "Medium" options: "Small" \| "Medium" \| "Large"', text
    )
    assert re.search(r'@e\d+ button "Locked" \[disabled\]', text)
    assert shot.title == "Form page"
    assert shot.tokens > 0


async def test_interactive_mode_lists_only_actionable_elements_flat(session, site):
    await open_page(session, f"{site}/form.html")
    shot = await session.snapshot(mode="interactive")
    lines = shot.text.splitlines()
    assert lines, "empty interactive snapshot"
    assert all(line.startswith("@e") for line in lines), lines
    assert not any("paragraph" in line or "Sign up" in line for line in lines)
    assert any('button "Submit"' in line for line in lines)
    # Every element Playwright gives an interactive role (and a ref) gets one of ours.
    raw = await session.page.aria_snapshot(mode="ai")
    playwright_interactive = [
        node
        for root in parse_aria_snapshot(raw)
        for node in root.walk()
        if node.role in INTERACTIVE_ROLES and node.pw_ref
    ]
    assert len(playwright_interactive) <= len(lines)


async def test_hidden_elements_are_left_out_and_offscreen_ones_kept(session, site):
    await open_page(session, f"{site}/form.html")
    text = (await session.snapshot()).text
    assert "Hidden button" not in text
    assert "Invisible button" not in text
    assert "Offscreen button" in text
    assert "Far button" in text  # below the fold is still part of the page


async def test_scoped_snapshot_by_css_and_by_ref(session, site):
    await open_page(session, f"{site}/form.html")
    full = await session.snapshot()
    by_css = await session.snapshot(scope="#signup")
    assert 'button "Submit"' in by_css.text
    assert "Sign up" not in by_css.text and "Far button" not in by_css.text
    # Refs are the same in the scoped view as in the full one.
    assert ref_of(by_css.text, 'button "Submit"') == ref_of(full.text, 'button "Submit"')
    region = ref_of(full.text, 'region "Scroll box"')
    by_ref = await session.snapshot(scope=region)
    assert "top of box" in by_ref.text and "Submit" not in by_ref.text
    # After a scoped snapshot, refs outside the scope still resolve.
    await (await session.resolve(ref_of(full.text, 'button "Far button"'))).click()
    assert await session.page.inner_text("#out") == "far clicked"


async def test_scoped_snapshot_errors_are_clear(session, site):
    await open_page(session, f"{site}/form.html")
    from agent.errors import ToolError

    with pytest.raises(ToolError, match="No element matches"):
        await session.snapshot(scope="#does-not-exist")
    with pytest.raises(ToolError, match="not a valid CSS selector"):
        await session.snapshot(scope="[[[")


async def test_refs_stable_across_snapshots_when_nothing_changed(session, site):
    await open_page(session, f"{site}/form.html")
    first = await session.snapshot()
    second = await session.snapshot()
    assert first.text == second.text
    assert first.refs == second.refs


async def test_an_unchanged_page_renders_the_same_and_any_change_is_seen(session, site):
    # The render of an unchanged page is reused; a capped snapshot (which shortens and drops
    # lines) must not alter it, and a change the aria text does not show must still count.
    await open_page(session, f"{site}/long.html")
    uncapped = await session.snapshot()
    roomy = await session.snapshot(max_tokens=2500)
    tight = await session.snapshot(max_tokens=600)
    assert tight.capped and roomy.capped and tight.text != roomy.text
    assert (await session.snapshot(max_tokens=2500)).text == roomy.text
    again = await session.snapshot()
    assert (again.text, again.refs) == (uncapped.text, uncapped.refs)
    await session.page.evaluate(
        "document.body.insertAdjacentHTML('beforeend', "
        "'<p>Read <span id=late>the small print</span> first</p>')"
    )
    before = await session.snapshot()
    assert "Read the small print first" in before.text
    assert 'clickable "the small print"' not in before.text
    # A pointer cursor on an inline span leaves Playwright's text as it was.
    raw = await session.page.aria_snapshot(mode="ai")
    await session.page.evaluate("document.getElementById('late').style.cursor = 'pointer'")
    assert await session.page.aria_snapshot(mode="ai") == raw
    after = await session.snapshot()
    ref = ref_of(after.text, 'clickable "the small print"')
    await (await session.resolve(ref)).click()


async def test_table_rows_are_one_line_unless_a_header_sorts_on_click(session, site):
    await open_page(session, f"{site}/table.html")
    text = (await session.snapshot()).text
    # A plain row is condensed into one line; the header row keeps each sorting header's ref.
    assert re.search(r"Groundhog Day \| 1993 \| February, again", text), text
    year = ref_of(text, 'columnheader "Year"')
    await (await session.resolve(year)).click()
    assert await session.page.inner_text("#out") == "sorted by 1"


async def test_refs_of_persisting_elements_survive_dom_changes(session, site):
    await open_page(session, f"{site}/form.html")
    first = await session.snapshot()
    submit = ref_of(first.text, 'button "Submit"')
    await session.page.evaluate(
        "document.body.insertAdjacentHTML('afterbegin', '<button>Injected</button>')"
    )
    second = await session.snapshot()
    assert ref_of(second.text, 'button "Submit"') == submit
    assert ref_of(second.text, 'button "Injected"') not in first.text


async def test_a_ref_stays_with_its_element_when_its_label_changes(session, site):
    """``@eN button "Rename me"`` is still ``@eN`` once a click made it say "Renamed": the ref
    names the DOM node, not its label. Playwright gives the relabelled node a new ref of its own."""
    await open_page(session, f"{site}/form.html")
    first = await session.snapshot()
    rename = ref_of(first.text, 'button "Rename me"')
    await (await session.resolve(rename)).click()
    second = await session.snapshot()
    assert ref_of(second.text, 'button "Renamed"') == rename, second.text
    assert "Rename me" not in second.text
    assert set(second.refs) == set(first.refs)  # no ref appeared or disappeared
    target = await session.resolve(rename)
    assert await target.evaluate("el => el.id") == "rename"
    # A scoped snapshot replaces Playwright's ref map; the ref still resolves to the element.
    await session.page.evaluate("document.getElementById('rename').textContent = 'Again'")
    await session.snapshot(scope="form")
    assert await (await session.resolve(rename)).evaluate("el => el.id") == "rename"
    assert ref_of((await session.snapshot()).text, 'button "Again"') == rename


async def test_a_replaced_element_never_inherits_the_ref_of_one_acted_on(session, site):
    """The mark that keeps a ref across a label change is on the DOM node: the button that
    replaces the one clicked, same name or not, gets a new ref, and the old ref is stale."""
    await open_page(session, f"{site}/form.html")
    swap = ref_of((await session.snapshot()).text, 'button "Swap"')
    await (await session.resolve(swap)).click()  # acted on, so marked; it replaces itself
    fresh = await session.snapshot()
    new_swap = ref_of(fresh.text, 'button "Swap"')
    assert new_swap != swap
    with pytest.raises(StaleRefError, match="stale ref"):
        await session.resolve(swap)
    await (await session.resolve(new_swap)).click()
    assert await session.page.inner_text("#out") == "new swap clicked"


async def test_stale_ref_after_element_replaced_is_explicit(session, site):
    await open_page(session, f"{site}/form.html")
    shot = await session.snapshot()
    swap = ref_of(shot.text, 'button "Swap"')
    await session.page.click("#swap")  # replaces the button with a new one of the same name
    with pytest.raises(StaleRefError, match="stale ref"):
        await session.resolve(swap)
    fresh = await session.snapshot()
    new_swap = ref_of(fresh.text, 'button "Swap"')
    assert new_swap != swap, "a replaced element must not inherit the old ref"
    with pytest.raises(StaleRefError):
        await session.resolve(swap)  # still stale, never the new button
    await (await session.resolve(new_swap)).click()
    assert await session.page.inner_text("#out") == "new swap clicked"


async def test_stale_ref_after_navigation_is_explicit(session, site):
    await open_page(session, f"{site}/form.html")
    shot = await session.snapshot()
    submit = ref_of(shot.text, 'button "Submit"')
    await session.goto(f"{site}/page2.html")
    with pytest.raises(StaleRefError, match="navigated"):
        await session.resolve(submit)
    await session.snapshot()
    with pytest.raises(StaleRefError):
        await session.resolve(submit)  # a number is never reused for an element of a new page


async def test_unknown_and_malformed_refs(session, site):
    await open_page(session, f"{site}/page2.html")
    await session.snapshot()
    with pytest.raises(UnknownRefError, match="never in a snapshot"):
        await session.resolve("@e99999")
    with pytest.raises(UnknownRefError, match="not a ref"):
        await session.resolve("the submit button")
    number = ref_of((await session.snapshot()).text, "link")
    for spelling in (number, number.lstrip("@"), "ref=" + number.lstrip("@")):
        assert await session.resolve(spelling)


async def test_cursor_pointer_spans_get_refs_and_are_clickable(session, site):
    await open_page(session, f"{site}/form.html")
    shot = await session.snapshot()
    beta = ref_of(shot.text, 'clickable "beta"')
    assert ref_of(shot.text, 'clickable "alpha"') != beta
    # The clickable is shown under the sentence that holds it.
    lines = shot.text.splitlines()
    index = next(i for i, line in enumerate(lines) if 'clickable "beta"' in line)
    assert any("Choose alpha or beta" in line for line in lines[max(0, index - 3) : index])
    await (await session.resolve(beta)).click()
    assert await session.page.inner_text("#out") == "span clicked: beta"
    interactive = await session.snapshot(mode="interactive")
    assert ref_of(interactive.text, 'clickable "beta"') == beta


async def test_iframe_and_shadow_dom_content_has_refs_that_resolve(session, site):
    await open_page(session, f"{site}/frames.html")
    await session.page.frame_locator("#f").locator("button").wait_for()
    shot = await session.snapshot()
    frame_button = ref_of(shot.text, 'button "Frame button"')
    shadow_button = ref_of(shot.text, 'button "Shadow button"')
    assert ref_of(shot.text, "iframe") != frame_button
    await (await session.resolve(frame_button)).click()
    assert "frame clicked" in await session.page.frame_locator("#f").locator("body").inner_text()
    await (await session.resolve(shadow_button)).click()
    assert await session.page.inner_text("#out") == "shadow clicked"


async def test_clickables_inside_an_iframe_get_refs_that_resolve_in_that_frame(session, site):
    await open_page(session, f"{site}/frame_clickables.html")
    frame = session.page.frame_locator("#f")
    await frame.locator("#delta").wait_for()
    shot = await session.snapshot()
    delta = ref_of(shot.text, 'clickable "delta"')
    gamma = ref_of(shot.text, 'clickable "gamma"')
    assert delta != gamma
    # Each is shown where it is: delta inside the iframe's content, gamma outside it.
    lines = grammar.parse_snapshot(shot.text)
    frame_line = next(line for line in lines if line.ref and line.role == "iframe")
    delta_line = next(line for line in lines if line.ref == delta)
    gamma_line = next(line for line in lines if line.ref == gamma)
    assert delta_line.index > frame_line.index and delta_line.depth > frame_line.depth
    assert gamma_line.index < frame_line.index
    await (await session.resolve(delta)).click()
    assert "picked delta" in await frame.locator("body").inner_text()
    assert await session.page.inner_text("#out") == ""
    assert ref_of((await session.snapshot()).text, 'clickable "delta"') == delta
    # The frame loads a new document: the old ref is stale, never the new document's element.
    await session.page.evaluate(
        "document.getElementById('f').srcdoc = document.getElementById('f').srcdoc + ' '"
    )
    await frame.locator("#delta").wait_for()
    await session.page.wait_for_function(
        "!document.getElementById('f').contentDocument.body.innerText.includes('picked')"
    )
    with pytest.raises(StaleRefError, match="stale ref"):
        await session.resolve(delta)
    fresh = ref_of((await session.snapshot()).text, 'clickable "delta"')
    assert fresh != delta
    await (await session.resolve(fresh)).click()
    assert "picked delta" in await frame.locator("body").inner_text()


async def test_token_cap_keeps_interactive_elements_and_says_what_was_cut(session, site):
    await open_page(session, f"{site}/long.html")
    uncapped = await session.snapshot()
    assert uncapped.tokens > 3000
    capped = await session.snapshot(max_tokens=600)
    assert capped.capped
    assert capped.tokens <= 600
    for n in range(0, 120, 10):
        assert f'button "Action {n}"' in capped.text, f"Action {n} was dropped"
    assert "snapshot capped at 600 tokens" in capped.text
    assert "omitted" in capped.text or "shortened" in capped.text
    assert "get_text" in capped.text or "scope" in capped.text


async def test_token_cap_pages_when_interactive_elements_alone_do_not_fit(session, site):
    await open_page(session, f"{site}/long.html")
    first = await session.snapshot(max_tokens=120)
    assert first.capped and first.pages > 1 and first.tokens <= 120
    assert "page=2" in first.text
    seen = set(re.findall(r'button "Action \d+"', first.text))
    for number in range(2, first.pages + 1):
        later = await session.snapshot(max_tokens=120, page_number=number)
        assert later.tokens <= 120
        seen |= set(re.findall(r'button "Action \d+"', later.text))
    assert len(seen) == 12, "every button appears on some page"
