"""A recipe: the tool calls of a successful prompt run, each target described so that a replay
finds the same element again, or knows it cannot."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tools.find import Description

__all__ = ["TARGET_TOOLS", "Recipe", "RecipeStep"]

TARGET_TOOLS = frozenset(
    {"click", "dblclick", "fill", "type", "press", "hover", "check", "uncheck", "select_option",
     "get_text", "scroll", "wait_for"}
)  # fmt: skip
"""The tools whose ``ref`` names an element a recipe must describe (``scroll`` and
``wait_for`` take one optionally: a scrollable region, an element to wait for)."""


@dataclass(frozen=True)
class RecipeStep:
    """One tool call: its tool, its arguments but the ref, and the element the ref meant.

    ``target`` is None for calls with no element (``navigate``, ``press`` on the focus,
    ``wait_for``, ``scroll`` of the page).
    """

    tool: str
    arguments: dict[str, Any] = field(default_factory=dict)
    target: Description | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"tool": self.tool, "arguments": dict(self.arguments)}
        if self.target is not None:
            data["target"] = self.target.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RecipeStep:
        target = data.get("target")
        return cls(
            tool=str(data["tool"]),
            arguments=dict(data.get("arguments") or {}),
            target=Description.from_dict(target) if target else None,
        )


@dataclass(frozen=True)
class Recipe:
    """What a successful run did, in order.

    Attributes:
        steps: the tool calls that succeeded.
        reads: the run answered with information read from the page, so a replay needs one
            model call that reads the final page; False for a pure action prompt.
        answer: the run's final answer (an action prompt's answer is replayed as it was).
        complete: every step's target could be described; an incomplete recipe is never cached
            (its script says where a step is missing).
        answer_is_text: the answer was exactly the text the last step (``get_text``) read, so
            a replay answers with what that step reads then, with no model call.
        facts: what an action prompt's answer quoted from the page (numbers, names the prompt
            did not hold): the recorded answer is given again only while the final page still
            shows every one; otherwise the model reads the page.
    """

    steps: tuple[RecipeStep, ...]
    reads: bool = False
    answer: str = ""
    complete: bool = True
    answer_is_text: bool = False
    facts: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "steps": [step.to_dict() for step in self.steps],
            "reads": self.reads,
            "answer": self.answer,
            "complete": self.complete,
            "answerIsText": self.answer_is_text,
            "facts": list(self.facts),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recipe:
        return cls(
            steps=tuple(RecipeStep.from_dict(step) for step in data.get("steps") or ()),
            reads=bool(data.get("reads")),
            answer=str(data.get("answer", "")),
            complete=bool(data.get("complete", True)),
            answer_is_text=bool(data.get("answerIsText")),
            facts=tuple(str(fact) for fact in data.get("facts") or ()),
        )
