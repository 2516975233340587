"""A changed page is parsed, scanned and rendered only where it changed, and the snapshot is the
one a fresh start would give: the same text, the same refs, every clickable."""

from __future__ import annotations

import copy
import random
import re

from agent.browser import page_js
from agent.browser.aria_tree import parse_snapshot_text
from agent.browser.budget import Budget, Line, join_lines
from agent.browser.clickables import _frames_apart
from agent.browser.refs import RefRegistry
from agent.browser.render import render_tree
from agent.browser.session import BrowserSession
from agent.browser.snapshot import Snapshotter
from agent.browser.tokens import TokenCounter, token_counter
from tests.browser.snapshot_lines import ref_of

_LEAVES = [
    '- heading "Title {n}" [level=2] [ref=e{n}]',
    '- link "Read {n}" [ref=e{n}] [cursor=pointer]:\n{i}  - /url: /read/{n}',
    '- textbox "Field {n}" [ref=e{n}]: typed {n}',
    '- button "Go {n}" [ref=e{n}]',
    "- text: words {n}",
    '- checkbox "Agree {n}" [checked] [ref=e{n}]',
    "- paragraph [ref=e{n}]: a paragraph {n}",
    '- img "Picture {n}" [ref=e{n}]',
    '- combobox "Size {n}" [ref=e{n}]:\n{i}  - option "Small" [selected]\n{i}  - option "Large"',
    '- row "a{n} b{n}" [ref=e{n}]:\n{i}  - cell "a{n}" [ref=e{n}1]\n{i}  - cell "b{n}" [ref=e{n}2]',
]
_BRANCHES = ["generic", "list", "listitem", "navigation", "main", "region", "group", "iframe"]


def _synthetic_snapshot(rng: random.Random, size: int) -> list[str]:
    """Snapshot-shaped lines: nested wrappers, controls, text, rows, dropdowns."""
    lines: list[str] = []
    counter = iter(range(1000, 10**6))

    def grow(depth: int) -> None:
        for _ in range(rng.randint(1, 5)):
            if len(lines) >= size:
                return
            n, pad = next(counter), "  " * depth
            if depth < 6 and rng.random() < 0.35:
                lines.append(f"{pad}- {rng.choice(_BRANCHES)} [ref=e{n}]:")
                grow(depth + 1)
            else:
                lines.extend(
                    pad + line for line in rng.choice(_LEAVES).format(n=n, i="").split("\n")
                )

    while len(lines) < size:
        grow(0)
    return lines


def _edit(rng: random.Random, lines: list[str], step: int) -> list[str]:
    lines = lines[:]
    at, span = rng.randrange(len(lines)), rng.randint(1, 6)
    kind = rng.choice(["delete", "insert", "change", "move", "append"])
    if kind == "delete":
        del lines[at : at + span]
    elif kind == "insert":
        pad = " " * rng.choice([0, 2, 4, 6])
        lines[at:at] = [f'{pad}- button "New {step}" [ref=n{step}]', f"{pad}- text: new {step}"]
    elif kind == "change":
        lines[at] += " changed"
    elif kind == "move":
        moved = lines[at : at + span]
        del lines[at : at + span]
        to = rng.randrange(len(lines) + 1)
        lines[to:to] = moved
    else:
        lines.append(f"- paragraph [ref=p{step}]: tick {step}")
    return lines


def _render(text: str, registry: RefRegistry, mode: str, depth: int | None, previous=None):
    parsed = parse_snapshot_text(text, previous)
    lines = render_tree(parsed.roots, [], [], registry, 1.0, mode, depth)  # type: ignore[arg-type]
    return parsed, join_lines(lines)


def test_a_parse_against_the_last_one_renders_as_a_fresh_parse_does():
    rng = random.Random(27)
    reused = total = 0
    for mode, depth in (("full", None), ("interactive", None), ("full", 3)):
        for _ in range(6):
            lines = _synthetic_snapshot(rng, 300)
            registry, previous = RefRegistry(), None
            for step in range(25):
                text = "\n".join(lines)
                # The same registry state for both: a fresh render on a copy of it.
                fresh_registry = copy.deepcopy(registry)
                previous, kept = _render(text, registry, mode, depth, previous)
                _, fresh = _render(text, fresh_registry, mode, depth)
                assert kept == fresh, f"{mode} {depth} step {step}"
                reused += previous.reused
                total += len(previous.lines)
                if rng.random() < 0.15:
                    # Another snapshot saw one of these keys with another name: kept lines
                    # holding it would be wrong, and none may be copied.
                    registry.issue(1.0, "aria", f"e{rng.randint(1000, 1300)}", "button", "other")
                lines = _edit(rng, lines, step)
    assert reused > total / 2  # most of each text was taken over, not parsed again


def test_clickables_placed_on_a_kept_parse_render_as_on_a_fresh_one():
    rng = random.Random(31)
    placed = 0
    for mode in ("full", "interactive"):
        lines = _synthetic_snapshot(rng, 300)
        registry, previous = RefRegistry(), None
        for step in range(30):
            text = "\n".join(lines)
            runs = re.findall(r"(?:words|a paragraph|typed) \d+", text)
            chosen = rng.sample(runs, min(len(runs), 4))
            # A whole text run, or a word inside one: the run becomes the clickable, or holds it.
            items = [
                {"id": 100 + i, "text": run if i % 2 else run.split()[-1], "context": run}
                for i, run in enumerate(chosen)
            ]
            fresh_registry = copy.deepcopy(registry)
            parsed = parse_snapshot_text(text, previous)
            lines_kept = render_tree(parsed.roots, items, [], registry, 1.0, mode, None)  # type: ignore[arg-type]
            fresh_lines = render_tree(
                parse_snapshot_text(text).roots,
                items,
                [],
                fresh_registry,
                1.0,
                mode,
                None,  # type: ignore[arg-type]
            )
            kept = join_lines(lines_kept)
            assert kept == join_lines(fresh_lines), f"{mode} step {step}"
            placed += kept.count("clickable")
            # Placing copied the nodes it changed: the parse the next one starts from is the text's.
            assert not any(
                node.role == "clickable" for root in parsed.roots for node in root.walk()
            )
            previous = parsed
            lines = _edit(rng, lines, step)
    assert placed > 100


class _CountingCounter(TokenCounter):
    """The real counter, noting how many texts it was given to count one by one."""

    def __init__(self) -> None:
        super().__init__(token_counter().encoding)
        self.counted = 0

    def count_many(self, texts: list[str]) -> list[int]:
        self.counted += len(texts)
        return super().count_many(texts)


def test_a_capped_render_of_a_changed_page_counts_only_its_new_lines():
    rng = random.Random(41)
    lines = _synthetic_snapshot(rng, 400)
    registry, previous = RefRegistry(), None
    kept_counter = _CountingCounter()
    counted = rendered = 0
    for step in range(20):
        text = "\n".join(lines)
        fresh_registry = copy.deepcopy(registry)
        previous = parse_snapshot_text(text, previous)
        kept_lines = render_tree(previous.roots, [], [], registry, 1.0, "full", None)
        fresh_lines = render_tree(
            parse_snapshot_text(text).roots, [], [], fresh_registry, 1.0, "full", None
        )
        before = kept_counter.counted
        for page_number in (1, 2):
            fitted = Budget(kept_counter, 600).fit(kept_lines, page_number)
            # The same page, note and token count as a render that never counted a line.
            assert fitted == Budget(token_counter(), 600).fit(fresh_lines, page_number), step
            assert fitted[2] and fitted[3] > 1  # capped, and paged
        if step:
            counted += kept_counter.counted - before
            rendered += len(kept_lines)
        lines = _edit(rng, lines, step)
    assert counted < rendered / 3  # only lines an edit made were counted again (not all)


def test_a_long_text_is_told_over_the_cap_only_when_it_is():
    counter = token_counter()
    # Long in characters, few in tokens: rules of "=" (64 to a token). It fits the cap.
    fitting = [Line(depth, "- text: " + "=" * 400, "text") for depth in range(40)]
    text = join_lines(fitting)
    budget = Budget(counter, 1000)
    assert len(text) > 8 * 1000 and counter.count(text) <= 1000
    assert not budget.surely_over(fitting, text)
    # A synthetic page many times the cap is over, by the lines' own counts.
    parsed = parse_snapshot_text("\n".join(_synthetic_snapshot(random.Random(5), 3000)))
    lines = render_tree(parsed.roots, [], [], RefRegistry(), 1.0, "full", None)
    text = join_lines(lines)
    budget = Budget(counter, 1000)
    assert budget.surely_over(lines, text) and counter.count(text) > 1000


def test_only_the_changed_place_is_parsed_again():
    lines = _synthetic_snapshot(random.Random(3), 400)
    first = parse_snapshot_text("\n".join(lines))
    assert first.reused == 0
    second = parse_snapshot_text("\n".join([*lines, "- paragraph [ref=p1]: tick"]), first)
    assert second.reused >= len(lines) - 20
    again = parse_snapshot_text("\n".join(lines), first)
    assert again.reused == len(lines) and again.roots == first.roots


_CHANGES = [
    # Added content holding a clickable.
    "document.getElementById('more').insertAdjacentHTML('beforeend', "
    "'<p>Then <span class=pick id=beta>beta</span> too.</p>')",
    # A class on an ancestor gives a span its pointer.
    "document.getElementById('box').classList.add('on')",
    # An empty clickable gets its first words.
    "document.getElementById('empty').textContent = 'epsilon'",
    # The text around a clickable changes: its context with it.
    "document.getElementById('p1').firstChild.textContent = 'Now at last pick '",
    # An onclick makes a plain span clickable.
    "document.getElementById('plain').setAttribute('onclick', 'void 0')",
    # A clickable is hidden, another removed.
    "document.getElementById('alpha').classList.add('gone')",
    "document.getElementById('p3').remove()",
    # A paragraph moves to the end: the order follows the document.
    "document.getElementById('more').before(document.getElementById('p4'))",
    "document.body.append(document.getElementById('box'))",
    # A new style sheet may restyle anything: the whole document is scanned again.
    "document.head.insertAdjacentHTML('beforeend', '<style>.later { cursor: pointer }</style>');"
    "document.getElementById('more').insertAdjacentHTML('beforeend', "
    "'<p>At last <span class=later>omega</span>.</p>')",
    # A change that touches no clickable.
    "document.getElementById('out').textContent = 'nothing'",
]
_WHOLE = "window[Symbol.for('browser-agent.clickables')].whole = true"


async def test_the_scan_of_a_changed_page_is_what_a_whole_scan_finds(session, site):
    await session.goto(f"{site}/clickables_live.html")
    page = session.page
    first = await page.evaluate(page_js.CLICKABLES, None)
    assert [item["text"] for item in first["items"]] == ["alpha"]
    seen = set()
    for change in _CHANGES:
        await page.evaluate(change)
        kept = await page.evaluate(page_js.CLICKABLES, None)
        await page.evaluate(_WHOLE)
        whole = await page.evaluate(page_js.CLICKABLES, None)
        assert kept["items"] == whole["items"], change
        seen.update(item["text"] for item in kept["items"])
    assert seen >= {"alpha", "beta", "mu", "epsilon", "words", "omega"}
    final = [item["text"] for item in whole["items"]]
    assert "alpha" not in final and "epsilon" not in final
    assert final.index("words") < final.index("beta") < final.index("mu")


async def test_a_changed_page_snapshots_as_a_fresh_snapshotter_would(session, site):
    await session.goto(f"{site}/clickables_live.html")
    await session.snapshot()
    for change in _CHANGES:
        await session.page.evaluate(change)
        for mode in ("full", "interactive"):
            kept = await session.snapshot(mode=mode)  # type: ignore[arg-type]
            fresh = await Snapshotter(session.refs).take(session.page, mode=mode)  # type: ignore[arg-type]
            assert (kept.text, kept.refs) == (fresh.text, fresh.refs), change
    shot = await session.snapshot()
    await (await session.resolve(ref_of(shot.text, 'clickable "beta"'))).click()
    assert await session.page.inner_text("#out") == "clicked beta"


async def test_clickables_in_sandboxed_and_other_origin_frames_get_refs_that_resolve(
    session: BrowserSession, site: str
):
    await session.goto(f"{site}/frames_apart.html")
    page = session.page
    await page.frame_locator("#sandboxed").locator("#zeta").wait_for()
    await page.frame_locator("#other").locator("#omega").wait_for()
    # Only the other origin's frame needs a scan of its own; the sandboxed one is found when
    # the page's own scan cannot reach it.
    assert [frame.url.split("/")[2].split(":")[0] for _, frame in _frames_apart(page)] == [
        "localhost"
    ]
    shot = await session.snapshot()
    for name, frame_id in (("zeta", "#sandboxed"), ("omega", "#other")):
        ref = ref_of(shot.text, f'clickable "{name}"')
        await (await session.resolve(ref)).click()
        body = page.frame_locator(frame_id).locator("body")
        assert f"picked {name}" in await body.inner_text()
    again = await session.snapshot()
    assert ref_of(again.text, 'clickable "zeta"') == ref_of(shot.text, 'clickable "zeta"')
