"""Deciding whether a task succeeded: a JS predicate on the final page and the final answer."""

from __future__ import annotations

import contextlib
import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

from playwright.async_api import Error as PlaywrightError

from agent.errors import first_line

if TYPE_CHECKING:
    from playwright.async_api import Page

    from evals.tasks import AnswerCheck, TaskCheck

__all__ = ["CheckOutcome", "check_answer", "normalise", "run_check"]

PAGE_LOAD_WAIT_MS = 10_000
"""How long a page check waits for the final page to finish loading before judging it."""
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")


@dataclass(frozen=True)
class CheckOutcome:
    """Whether the task succeeded, and a sentence saying what was checked and what was found."""

    passed: bool
    detail: str


def normalise(text: str) -> str:
    """Case, accents, quotes and whitespace folded away, for comparing answers."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.replace("\u2019", "'").replace("\u201c", '"').replace("\u201d", '"')
    return " ".join(text.casefold().split())


def _numbers(text: str) -> list[float]:
    values = []
    for raw in _NUMBER.findall(text):
        try:
            values.append(float(raw.replace(",", "")))
        except ValueError:
            continue
    return values


def check_answer(answer: str, expected: AnswerCheck) -> CheckOutcome:
    """Compare a final answer with what the task expects."""
    said = normalise(answer)
    problems: list[str] = []
    if expected.equals is not None and said.strip(" .") != normalise(expected.equals).strip(" ."):
        problems.append(f"is not {expected.equals!r}")
    missing = [part for part in expected.contains if normalise(part) not in said]
    if missing:
        problems.append("lacks " + ", ".join(repr(part) for part in missing))
    if expected.number is not None and not any(
        abs(value - expected.number) < 1e-6 for value in _numbers(answer)
    ):
        problems.append(f"does not give the number {expected.number:g}")
    if expected.regex is not None and not re.search(expected.regex, answer, re.IGNORECASE):
        problems.append(f"does not match /{expected.regex}/")
    if problems:
        return CheckOutcome(False, "the answer " + "; ".join(problems))
    return CheckOutcome(True, "the answer is right")


async def run_check(check: TaskCheck, page: Page, answer: str | None) -> CheckOutcome:
    """Run the task's checks on the final page and answer; every check must pass."""
    details: list[str] = []
    passed = True
    if check.page is not None:
        # A tab the last action opened may still be loading; judge the page it becomes.
        with contextlib.suppress(PlaywrightError):
            await page.wait_for_load_state("load", timeout=PAGE_LOAD_WAIT_MS)
        try:
            value = await page.evaluate(check.page)
        except PlaywrightError as exc:
            value = None
            details.append(f"the page check raised {first_line(exc)}")
        else:
            details.append("the page check held" if value else "the page check failed")
        passed = passed and bool(value)
    if check.answer is not None:
        if answer is None:
            outcome = CheckOutcome(False, "there is no answer")
        else:
            outcome = check_answer(answer, check.answer)
        details.append(outcome.detail)
        passed = passed and outcome.passed
    return CheckOutcome(passed, "; ".join(details) or "nothing to check")
