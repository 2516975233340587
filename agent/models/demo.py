"""The offline demo model (``AGENT_MODEL=demo``): the API and command line, tried without a key.

Not a language model: a small rule-based planner over the same conversation, snapshot and tools
a real model gets. It reads the task the planner loop sends, follows the commands it understands
(``demo_commands``: click, fill, check, select, and questions about the heading, the title or
the page's text) one tool call per step, answers questions from the latest snapshot, and ends
with ``done``. Every answer it gives starts with :data:`LABEL`, so none can pass for a real
model's; a task it does not follow gets an answer saying what it understands. It is used only
when named (``demo``), never in place of a model whose key is missing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from agent.browser.grammar import SnapshotLine, parse_heading, parse_snapshot, ref_lines
from agent.messages import (
    AssistantMessage,
    Message,
    ModelResponse,
    ModelSettings,
    ToolCall,
    ToolResult,
    ToolResultMessage,
    ToolSpec,
    UserMessage,
)
from agent.models.demo_commands import Command, find_target, parse_task
from prompts import render

__all__ = ["DEMO_MODEL_ID", "LABEL", "DemoModel"]

DEMO_MODEL_ID = "demo"
LABEL = "[offline demo model]"
"""How every answer of the demo model starts."""

# Where the observation (prompts/observation.j2) puts what the demo model reads: the task opens
# the first one, the page's title is a header line, and the snapshot closes each one.
_TASK_HEADER = "# Task\n"
_SNAPSHOT_HEADER = "\n# Snapshot\n"
_TITLE_PREFIX = "Title: "
_STEP = re.compile(r"^# Step (\d+) of (\d+)$")
_NO_TITLE = "(none)"
_READ_CHARS = 1200
_DONE = "done"


@dataclass
class _Conversation:
    """What the demo model reads from the messages so far."""

    task: str = ""
    observation: str = ""
    calls: list[ToolCall] = field(default_factory=list)
    results: list[ToolResult] = field(default_factory=list)
    history: list[str] = field(default_factory=list)
    """Its earlier answers and what its tool calls did, in order."""

    @classmethod
    def of(cls, messages: Sequence[Message]) -> _Conversation:
        talk = cls()
        for message in messages:
            if isinstance(message, UserMessage):
                if not talk.task:
                    talk.task = _task_of(message.content)
                if _SNAPSHOT_HEADER in message.content:
                    talk.observation = message.content
            elif isinstance(message, AssistantMessage):
                talk.calls.extend(message.tool_calls)
                if message.text:
                    talk.history.append(message.text)
            elif isinstance(message, ToolResultMessage):
                talk.results.extend(message.results)
                talk.history.extend(_sentence(r.content) for r in message.results if not r.is_error)
        return talk

    @property
    def _parts(self) -> tuple[str, str]:
        """The latest observation's header (URL, title, step) and its snapshot, task left out."""
        text = self.observation
        if text.startswith(_TASK_HEADER):
            text = text[len(_TASK_HEADER) + len(self.task) :]
        header, _, snapshot = text.partition(_SNAPSHOT_HEADER)
        return header, snapshot

    @property
    def snapshot(self) -> str:
        return self._parts[1]

    @property
    def last_step(self) -> bool:
        """Whether the loop said this step is its last (``# Step N of N``)."""
        for line in self._parts[0].splitlines():
            step = _STEP.match(line)
            if step:
                return step.group(1) == step.group(2)
        return False

    @property
    def title(self) -> str:
        for line in reversed(self._parts[0].splitlines()):
            if line.startswith(_TITLE_PREFIX):
                title = line.removeprefix(_TITLE_PREFIX).strip()
                return "" if title == _NO_TITLE else title
        return ""


class DemoModel:
    """The offline demo model; see the module docstring. Never touches the network."""

    def __init__(self, model_id: str = DEMO_MODEL_ID) -> None:
        self.model_id = model_id

    async def request(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSpec],
        settings: ModelSettings,
    ) -> ModelResponse:
        """The next step: one tool call for the next command, or ``done`` with the answer."""
        if not any(spec.name == _DONE for spec in tools):
            # Not the planner loop (the json and summary formats): there is nothing to follow.
            return self._response(f"{LABEL} {render('demo_help', not_understood=[])}")
        talk = _Conversation.of(messages)
        commands = parse_task(talk.task)
        acting = [command for command in commands if command.acts]
        failed = next((result for result in talk.results if result.is_error), None)
        if failed is not None and len(talk.calls) <= len(acting):
            command = acting[len(talk.calls) - 1]
            reason = _sentence(failed.content.removeprefix(f"Error from {failed.name}: "))
            return self._finish(talk, commands, f"I could not {command.said}: {reason}")
        said: list[str] = []
        lines = ref_lines(talk.snapshot)
        for command in _after(commands, len(talk.calls)):
            if not command.acts:
                if command.kind != "unknown":
                    said.append(self._reply(command, talk))
                continue
            if talk.last_step:
                # The loop stops after this step: answer now, so the output stays labelled.
                left = [c.said for c in _after(commands, len(talk.calls)) if c.acts]
                said.append(
                    f"I stopped at the step limit (AGENT_MAX_STEPS) before: {'; '.join(left)}."
                )
                return self._finish(talk, commands, *said)
            target = find_target(lines, command)
            if target is None or target.ref is None:
                said.append(_not_found(command, lines))
                return self._finish(talk, commands, *said)
            call = _call(command, target.ref, len(talk.calls) + 1)
            return self._response(" ".join(said) or None, call)
        return self._finish(talk, commands, *said)

    def _reply(self, command: Command, talk: _Conversation) -> str:
        if command.kind == "title":
            title = talk.title
            return f'The page\'s title is "{title}".' if title else "The page has no title."
        headings = [h for h in map(parse_heading, _text_lines(talk.snapshot)) if h is not None]
        if command.kind == "heading":
            if not headings:
                return "The page has no heading."
            _, text = min(headings, key=lambda heading: heading[0])
            return f'The main heading is "{text}".'
        text = " ".join(
            heading[1] if (heading := parse_heading(line)) else line
            for line in _text_lines(talk.snapshot, named=True)
        )
        if len(text) > _READ_CHARS:
            text = text[:_READ_CHARS].rsplit(" ", 1)[0] + " …"
        return f"The page says: {text}" if text else "The page shows no text."

    def _finish(
        self, talk: _Conversation, commands: Sequence[Command], *said: str
    ) -> ModelResponse:
        parts = [LABEL, *talk.history, *said]
        unknown = [command.said for command in commands if command.kind == "unknown"]
        if unknown or not commands:
            parts.append(render("demo_help", not_understood=unknown))
        answer = " ".join(part.strip() for part in parts if part.strip())
        return self._response(None, _call_done(answer, len(talk.calls) + 1))

    def _response(self, text: str | None, call: ToolCall | None = None) -> ModelResponse:
        calls = (call,) if call is not None else ()
        return ModelResponse(
            text=text,
            tool_calls=calls,
            model=self.model_id,
            stop_reason="tool_calls" if calls else "stop",
        )


def _task_of(first: str) -> str:
    """The task, from the first observation (or the whole first message of another caller)."""
    if not first.startswith(_TASK_HEADER):
        return first.strip()
    task, _, _ = first[len(_TASK_HEADER) :].rpartition("\n\n# Step 1 of ")
    return task.strip()


def _after(commands: Sequence[Command], acted: int) -> Sequence[Command]:
    """The commands after the ``acted``-th one that acts (those before it are done)."""
    if acted == 0:
        return commands
    seen = 0
    for index, command in enumerate(commands):
        seen += command.acts
        if command.acts and seen == acted:
            return commands[index + 1 :]
    return ()


def _call(command: Command, ref: str, number: int) -> ToolCall:
    arguments: dict[str, object]
    if command.kind == "fill":
        arguments = {"ref": ref, "value": command.value}
    elif command.kind == "select":
        arguments = {"ref": ref, "values": [command.value]}
    else:
        arguments = {"ref": ref}
    name = "select_option" if command.kind == "select" else command.kind
    return ToolCall(f"demo_{number}", name, arguments)


def _call_done(answer: str, number: int) -> ToolCall:
    return ToolCall(f"demo_{number}", _DONE, {"answer": answer})


def _not_found(command: Command, lines: Sequence[SnapshotLine]) -> str:
    names = [f'{line.role} "{line.name}"' for line in lines if line.name][:12]
    listed = "; ".join(names) or "none"
    return (
        f'I could not {command.said}: nothing on the page is named "{command.target}". '
        f"Elements with names here: {listed}."
    )


def _text_lines(snapshot: str, *, named: bool = False) -> list[str]:
    """The snapshot's text and headings: its lines without a ref, but the closing note. With
    ``named``, a line naming an element without a ref (``group "Colour"``) gives its name."""
    return [
        line.name if named and line.role else line.text
        for line in parse_snapshot(snapshot)
        if line.ref is None and line.text and not line.text.startswith("[snapshot")
    ]


def _sentence(text: str) -> str:
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if not first:
        return ""
    first = first[0].upper() + first[1:]
    return first if first.endswith((".", "!", "?")) else first + "."
