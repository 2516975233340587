"""The reference policy: a scripted model that follows each task's reference solution.

It sees only what a real model sees, the conversation, and answers turn ``n`` with the calls of
solution turn ``n``, after resolving every element named by role and name to its ref in the
newest snapshot that shows it (the observation, or a ``snapshot`` tool result). It is stateless:
the turn number is the count of assistant messages so far, and the task is recognised by its
prompt, so one policy serves any number of conversations, over HTTP (``provider_server``) or in
process (``scripted_model``, for ``agent eval --solutions``).

When an element cannot be found the policy answers ``done`` saying so: the task then fails its
check, and the report shows why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agent.browser.grammar import SnapshotLine, ref_lines
from agent.messages import (
    AssistantMessage,
    Message,
    ToolCall,
    ToolResultMessage,
    ToolSpec,
    UserMessage,
)
from agent.models.scripted import ScriptedModel
from evals.tasks import SolutionCall, Target, Task

__all__ = [
    "REFERENCE_MODEL_NAME",
    "ConversationView",
    "PolicyCall",
    "ReferencePolicy",
    "resolve_target",
    "view_of_messages",
]

REFERENCE_MODEL_NAME = "reference-policy"
"""The model name the reference policy answers as (``openai:reference-policy``, ...)."""


@dataclass(frozen=True)
class ConversationView:
    """What the policy reads from a conversation, whatever its wire format.

    ``texts`` are the user-side texts in order: observations and tool results.
    """

    first_user_text: str
    assistant_turns: int
    texts: tuple[str, ...]


@dataclass(frozen=True)
class PolicyCall:
    """A tool call the policy answers with."""

    name: str
    arguments: dict[str, Any]


def _matches(line: SnapshotLine, target: Target) -> bool:
    if line.role != target.role:
        return False
    if target.exact:
        return line.name == target.name
    return target.name.casefold() in line.name.casefold()


def _inside(lines: list[SnapshotLine], container: Target) -> list[SnapshotLine] | None:
    found = [i for i, line in enumerate(lines) if _matches(line, container)]
    if len(found) < container.nth:
        return None
    start = found[container.nth - 1]
    depth = lines[start].depth
    inner = []
    for line in lines[start + 1 :]:
        if line.depth <= depth:
            break
        inner.append(line)
    return inner


def resolve_target(texts: Sequence[str], target: Target) -> str | None:
    """The ref of ``target`` in the newest text that shows it, or None."""
    for text in reversed(texts):
        lines = ref_lines(text)
        if target.within is not None:
            scoped = _inside(lines, target.within)
            if scoped is None:
                continue
            lines = scoped
        found = [line for line in lines if _matches(line, target)]
        if len(found) >= target.nth:
            return found[target.nth - 1].ref
    return None


class ReferencePolicy:
    """Answers each turn of a task's conversation with that turn of its reference solution."""

    def __init__(self, tasks: Sequence[Task]) -> None:
        # Longest prompt first, so a prompt that contains another still finds its own task.
        self.tasks = sorted(tasks, key=lambda t: -len(t.prompt))

    def task_for(self, first_user_text: str) -> Task | None:
        """The task whose prompt the first user message carries."""
        for task in self.tasks:
            if task.prompt in first_user_text:
                return task
        return None

    def decide(self, view: ConversationView, task: Task | None = None) -> list[PolicyCall]:
        """The calls for the next turn of the conversation."""
        task = task or self.task_for(view.first_user_text)
        if task is None:
            return [_done("reference policy: this conversation is not one of the eval tasks")]
        turn = view.assistant_turns
        if turn >= len(task.solution):
            return [_done(f"reference policy: the solution of {task.id} has no turn {turn + 1}")]
        calls = []
        for call in task.solution[turn]:
            resolved = self._resolve(call, view.texts)
            if isinstance(resolved, str):
                return [_done(f"reference policy, {task.id} turn {turn + 1}: {resolved}")]
            calls.append(resolved)
        return calls

    @staticmethod
    def _resolve(call: SolutionCall, texts: Sequence[str]) -> PolicyCall | str:
        arguments = dict(call.arguments)
        if call.target is not None:
            ref = resolve_target(texts, call.target)
            if ref is None:
                return f"no {call.target.describe()} in any snapshot so far"
            arguments["ref"] = ref
        return PolicyCall(call.tool, arguments)

    def scripted_model(self, task: Task) -> ScriptedModel:
        """A ScriptedModel playing this policy in process, for ``--solutions`` runs."""

        def answer(messages: Sequence[Message], tools: Sequence[ToolSpec]) -> list[ToolCall]:
            view = view_of_messages(messages)
            turn = view.assistant_turns + 1
            return [
                ToolCall(f"call_{turn}_{index}", call.name, call.arguments)
                for index, call in enumerate(self.decide(view, task), 1)
            ]

        return ScriptedModel(answer, model_id=f"scripted:{REFERENCE_MODEL_NAME}")


def view_of_messages(messages: Sequence[Message]) -> ConversationView:
    """The policy's view of a provider-neutral conversation."""
    texts: list[str] = []
    first = ""
    turns = 0
    for message in messages:
        if isinstance(message, UserMessage):
            first = first or message.content
            texts.append(message.content)
        elif isinstance(message, ToolResultMessage):
            texts.extend(result.content for result in message.results)
        elif isinstance(message, AssistantMessage):
            turns += 1
    return ConversationView(first, turns, tuple(texts))


def _done(answer: str) -> PolicyCall:
    return PolicyCall("done", {"answer": answer})
