"""Fitting a rendered snapshot into a token budget.

Lines that carry a ref are what the model acts on, so they are kept first: long text is
shortened, then plain text dropped (longest first; headings stay as landmarks), and what still
does not fit is paged. The note at the end says what was left out and how to see it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from agent.browser.grammar import indent
from agent.browser.tokens import TokenCounter

__all__ = ["Budget", "Line", "join_lines"]

_TEXT_SHORTEN_STEPS = (300, 120, 60)
_CHARS_PER_TOKEN_AT_MOST = 8  # a text longer than this many characters a token of the cap


@dataclass(frozen=True, slots=True)
class Line:
    """One rendered line of a snapshot: its depth, text, kind and ref (if it has one), and the
    line as shown (indented).

    A line is made once and kept while its part of the page does not change, so what it shows
    is made with it: a snapshot of a page changed in one place joins the lines it kept as they
    are instead of indenting each again.
    """

    depth: int
    text: str
    kind: Literal["ref", "heading", "text"]
    ref: int | None = None
    shown: str = field(init=False, repr=False, compare=False)
    # Tokens of ``shown``, counted the first time a cap needs them (-1: not yet). Lines belong
    # to one snapshotter, which counts with one encoding.
    tokens: int = field(default=-1, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "shown", indent(self.depth, self.text))


def join_lines(lines: list[Line]) -> str:
    return "\n".join([line.shown for line in lines])


class Budget:
    """Fits rendered lines into a token cap, keeping actionable lines first."""

    def __init__(self, counter: TokenCounter, max_tokens: int) -> None:
        self.counter = counter
        self.max_tokens = max_tokens

    def fit(self, lines: list[Line], page_number: int) -> tuple[str, int, bool, int, int]:
        """The page ``page_number`` of ``lines`` fitted into the cap, with its note; ``lines``
        are left as they are (a render is reused while the page does not change)."""
        reserve = 80  # room for the note that says what was left out
        limit = max(self.max_tokens - reserve, 50)
        texts = [line.text for line in lines]
        costs = self._costs(lines)
        total = sum(costs) + len(lines)
        shortened = 0
        for cut in _TEXT_SHORTEN_STEPS:
            if total <= limit:
                break
            for i, line in enumerate(lines):
                if line.kind == "text" and len(texts[i]) > cut:
                    texts[i] = texts[i][:cut].rstrip() + "…"
                    new_cost = self.counter.count(indent(line.depth, texts[i]))
                    total -= costs[i] - new_cost
                    costs[i] = new_cost
                    shortened += 1
        kept = list(range(len(lines)))
        omitted_text = 0
        if total > limit:
            # Drop plain text, longest first, until the rest fits; headings stay as landmarks.
            by_cost = sorted((i for i in kept if lines[i].kind == "text"), key=lambda i: -costs[i])
            dropped: set[int] = set()
            for i in by_cost:
                if total <= limit:
                    break
                dropped.add(i)
                total -= costs[i] + 1
            omitted_text = len(dropped)
            kept = [i for i in kept if i not in dropped]
        pages = _paginate(kept, costs, limit)
        page_number = min(max(page_number, 1), len(pages))
        chosen = pages[page_number - 1]
        body = "\n".join(indent(lines[i].depth, texts[i]) for i in chosen)
        notes: list[str] = []
        if shortened:
            notes.append(f"{shortened} long texts shortened (…)")
        if omitted_text:
            notes.append(
                f"{omitted_text} text lines omitted: read them with get_text, or snapshot a part "
                'with scope="@eN" or a CSS selector'
            )
        if len(pages) > 1:
            notes.append(
                f"this is page {page_number} of {len(pages)}"
                + (
                    f": call snapshot with page={page_number + 1} for the elements after these"
                    if page_number < len(pages)
                    else ""
                )
            )
        note = f"[snapshot capped at {self.max_tokens} tokens; " + "; ".join(notes) + "]"
        text = body + "\n" + note
        return text, self.counter.count(text), True, len(pages), page_number

    def surely_over(self, lines: list[Line], text: str) -> bool:
        """Whether ``text`` (the lines joined) cannot fit the cap, told from the lines' own
        counts, which fitting them needs anyway, so that a big page's whole text need not be
        counted as well (on the largest corpus page that took 22 ms).

        Joined, lines merge a token or two where they meet: the whole text counted 0.886x the
        lines' sum or more on every corpus page, never near half; so a sum over twice the cap
        is over it. Only asked for a text long enough to be over at several characters a token
        (snapshot text runs at about four), so a page that fits is counted once, whole.
        """
        if len(text) <= _CHARS_PER_TOKEN_AT_MOST * self.max_tokens:
            return False
        return sum(self._costs(lines)) + len(lines) > 2 * self.max_tokens

    def _costs(self, lines: list[Line]) -> list[int]:
        """Tokens of each line as shown, counted once per line: a page that changed in one
        place keeps most of its lines, so a capped snapshot of it counts only the new ones."""
        new = [line for line in lines if line.tokens < 0]
        for line, tokens in zip(
            new, self.counter.count_many([fresh.shown for fresh in new]), strict=True
        ):
            object.__setattr__(line, "tokens", tokens)
        return [line.tokens for line in lines]


def _paginate(kept: list[int], costs: list[int], limit: int) -> list[list[int]]:
    pages: list[list[int]] = [[]]
    used = 0
    for i in kept:
        cost = costs[i] + 1
        if pages[-1] and used + cost > limit:
            pages.append([])
            used = 0
        pages[-1].append(i)
        used += cost
    return pages
