"""The recorder the planner loop feeds: before each call, what its ref points at; after it, the
step when it succeeded. The recipe comes out of a successful run only."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agent.errors import SessionLostError, ToolError
from agent.recipes.model import TARGET_TOOLS, Recipe, RecipeStep
from tools.find import Description, describe

if TYPE_CHECKING:
    from agent.browser.session import BrowserSession
    from agent.messages import ToolCall

__all__ = ["PendingStep", "RecipeRecorder", "page_facts"]

log = logging.getLogger(__name__)

# Calls a recipe leaves out: they change nothing on the page.
_SKIPPED = frozenset({"snapshot", "done"})
# What changes the page: a run that did none of it only looked (scrolling and waiting reveal).
_ACTIONS = TARGET_TOOLS - {"get_text", "scroll", "wait_for"}


@dataclass(frozen=True)
class PendingStep:
    """A call about to run, with its target described (None: it has none, or none could be
    made, as ``described`` says)."""

    tool: str
    arguments: dict[str, Any]
    target: Description | None
    described: bool


class RecipeRecorder:
    """Collects one run's successful calls as recipe steps."""

    def __init__(self, session: BrowserSession, *, steps: tuple[RecipeStep, ...] = ()) -> None:
        self.session = session
        self.steps: list[RecipeStep] = list(steps)
        self.complete = True
        self.last_text: str | None = None  # the last get_text's output, for a read answer

    async def before(self, call: ToolCall) -> PendingStep | None:
        """Describe the element ``call`` names, as it is now (before the call changes it)."""
        if call.name in _SKIPPED or call.arguments_error is not None:
            return None
        arguments = {k: v for k, v in call.arguments.items() if k != "ref"}
        ref = call.arguments.get("ref")
        if not ref:
            return PendingStep(call.name, arguments, None, True)
        if call.name not in TARGET_TOOLS:
            return PendingStep(call.name, arguments, None, False)
        return PendingStep(call.name, arguments, *await self._describe(str(ref)))

    async def _describe(self, ref: str) -> tuple[Description | None, bool]:
        try:
            _number, entry = self.session.refs.entry(ref)
            target = await self.session.resolve(ref)
            found = await describe(self.session.page, target, entry.role, entry.name)
        except SessionLostError:
            raise
        except (ToolError, ValueError):
            return None, True  # the call itself will fail on this ref and be left out
        return found, found is not None

    def after(self, pending: PendingStep | None, *, ok: bool, content: str) -> None:
        """Keep the step when its call succeeded."""
        if pending is None or not ok:
            return
        if not pending.described:
            log.info("recipe: the target of a %s call cannot be described", pending.tool)
            self.complete = False
        self.steps.append(RecipeStep(pending.tool, pending.arguments, pending.target))
        self.last_text = content if pending.tool == "get_text" else None

    def recipe(self, answer: str, *, prompt: str = "", seen: str = "") -> Recipe:
        """The recipe of the run that ended with ``answer``, given the ``prompt`` and the
        snapshot text the model had ``seen`` last.

        A run that read (``get_text``) or did nothing but look answered from the page: a replay
        reads the final page again (one model call). An action prompt's answer is replayed as
        recorded, but only while the final page still shows what it quoted from the page
        (:attr:`Recipe.facts`), so a stale number is never repeated.
        """
        acted = any(
            step.tool in _ACTIONS or step.tool in ("navigate", "go_back") for step in self.steps
        )
        read = any(step.tool == "get_text" for step in self.steps)
        last = self.last_text
        return Recipe(
            steps=tuple(self.steps),
            reads=read or not acted,
            answer=answer,
            complete=self.complete,
            answer_is_text=last is not None
            and bool(last.strip())
            and last.strip() == answer.strip(),
            facts=page_facts(answer, prompt, seen),
        )


# Numbers (with their units and signs) and capitalised words: what an answer read off a page.
_FACT = re.compile(r"[$€£]?\d[\w.,:/%-]*|\b[A-Z][\w'-]{2,}")


def page_facts(answer: str, prompt: str, seen: str) -> tuple[str, ...]:
    """The facts of ``answer`` that the page showed (``seen``) and the prompt did not hold."""
    facts = (fact.rstrip(".,:;-/") for fact in _FACT.findall(answer))
    return tuple(dict.fromkeys(f for f in facts if f and f in seen and f not in prompt))
