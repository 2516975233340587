"""Tools as typed async functions, their JSON schemas generated from their signatures.

A tool is ``async def name(ctx: ToolContext, arg: type = default, ...) -> str`` with a
Google-style docstring. ``@tool`` builds a pydantic model from the parameters after ``ctx``,
so the schema the model sees and the validation of what it sends come from one place. Errors the
model can fix (a bad argument, a stale ref, a covered element) come back as ``ToolOutcome`` text
with ``is_error`` set; only a lost browser or a bug escapes as an exception.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, get_type_hints, overload

from playwright.async_api import Error as PlaywrightError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from agent.errors import SessionLostError, ToolError, first_line
from tools.changes import Changes
from tools.context import ToolContext

__all__ = [
    "Tool",
    "ToolBox",
    "ToolImage",
    "ToolOutcome",
    "ToolSpec",
    "call_tool",
    "guarded",
    "tool",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ToolSpec:
    """A tool as a model sees it: name, description and a JSON schema of its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class ToolImage:
    """An image a tool shows besides its text (a screenshot), for callers that can pass one on."""

    data: bytes
    mime_type: str


@dataclass(frozen=True)
class ToolOutcome:
    """What a tool call produced: text for the model, any images that go with it, and what the
    action changed besides its element (already said at the end of ``content``).

    Attributes:
        failure: when the call failed in a way no tool foresaw (a Playwright error it did not
            turn into a ``ToolError``), that error in one line; ``content`` is then
            ``NAME failed: FAILURE``, and each face may word it its own way.
    """

    content: str
    is_error: bool = False
    images: tuple[ToolImage, ...] = ()
    changes: Changes = field(default_factory=Changes)
    failure: str | None = None


ToolFunction = Callable[..., Awaitable[str | ToolOutcome]]
"""A tool returns its text, or a ``ToolOutcome`` when it has images to show as well; errors the
model can fix are raised as ``ToolError``, never returned."""


@dataclass(frozen=True)
class Tool:
    """One tool: its function, the pydantic model of its arguments and its schema."""

    name: str
    description: str
    function: ToolFunction
    arguments: type[BaseModel]

    @property
    def spec(self) -> ToolSpec:
        schema = self.arguments.model_json_schema()
        schema.pop("title", None)
        for prop in schema.get("properties", {}).values():
            prop.pop("title", None)
        return ToolSpec(self.name, self.description, schema)

    async def __call__(self, ctx: ToolContext, **arguments: Any) -> str | ToolOutcome:
        return await self.function(ctx, **arguments)


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """Split a Google-style docstring into its summary and its ``Args:`` descriptions."""
    doc = inspect.cleandoc(doc)
    summary, _, rest = doc.partition("\nArgs:\n")
    params: dict[str, str] = {}
    current = None
    for line in rest.splitlines():
        match = re.match(r"^\s{2,}(\w+)(?: \([^)]*\))?: (.*)$", line)
        if match:
            current = match.group(1)
            params[current] = match.group(2).strip()
        elif current and line.startswith(" " * 6):
            params[current] += " " + line.strip()
        elif line.strip() and not line.startswith(" "):
            break
    return " ".join(summary.split()), params


@overload
def tool(function: ToolFunction, *, name: str | None = None) -> Tool: ...
@overload
def tool(function: None = None, *, name: str | None = None) -> Callable[[ToolFunction], Tool]: ...
def tool(
    function: ToolFunction | None = None, *, name: str | None = None
) -> Tool | Callable[[ToolFunction], Tool]:
    """Turn a typed async function into a ``Tool`` with a generated schema.

    Use as ``@tool``, or ``@tool(name="type")`` where the function name cannot be the tool name.
    """
    if function is None:
        return lambda f: _make_tool(f, name)
    return _make_tool(function, name)


def _make_tool(function: ToolFunction, tool_name: str | None) -> Tool:
    summary, param_docs = _parse_docstring(function.__doc__ or "")
    if not summary:
        raise TypeError(f"tool {function.__name__} needs a docstring: it is the model's manual")
    # Tools import ToolContext for type checkers only; give it to the evaluation here.
    hints = get_type_hints(function, localns={"ToolContext": ToolContext})
    fields: dict[str, Any] = {}
    for index, (name, param) in enumerate(inspect.signature(function).parameters.items()):
        if index == 0:
            continue  # the context
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[name] = (hints[name], Field(default, description=param_docs.get(name)))
    model = create_model(
        f"{function.__name__}_arguments",
        __config__=ConfigDict(extra="forbid"),
        **fields,
    )
    return Tool(tool_name or function.__name__, summary, function, model)


class ToolBox:
    """A named set of tools the planner offers, and the one place tool calls are run."""

    def __init__(self, tools: Iterable[Tool]) -> None:
        self.tools = {t.name: t for t in tools}

    @property
    def specs(self) -> list[ToolSpec]:
        return [t.spec for t in self.tools.values()]

    def __contains__(self, name: object) -> bool:
        return name in self.tools

    async def call(self, ctx: ToolContext, name: str, arguments: dict[str, Any]) -> ToolOutcome:
        """Validate and run one call; every error the model can fix comes back as text."""
        selected = self.tools.get(name)
        if selected is None:
            known = ", ".join(sorted(self.tools))
            return ToolOutcome(f"There is no tool named {name!r}. Available tools: {known}.", True)
        return await call_tool(selected, ctx, arguments)


async def call_tool(selected: Tool, ctx: object, arguments: dict[str, Any]) -> ToolOutcome:
    """Validate ``arguments`` against the tool's schema and run it with ``ctx``.

    ``ctx`` is the first argument the tool's function takes: a ``ToolContext`` for the browser
    tools, or a face's own context for tools that act on sessions rather than on one page (the
    MCP server's ``scrape``). Every error the model can fix comes back as text, and so does
    a Playwright error no tool foresaw (``guarded``); a lost browser raises
    ``SessionLostError``.
    """
    try:
        parsed = selected.arguments.model_validate(arguments)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'arguments'}: {err['msg']}"
            for err in exc.errors()
        )
        return ToolOutcome(f"Invalid arguments for {selected.name}: {problems}.", True)
    return await guarded(ctx, selected.name, lambda: selected.function(ctx, **dict(parsed)))


async def guarded(
    ctx: object, name: str, call: Callable[[], Awaitable[str | ToolOutcome]]
) -> ToolOutcome:
    """Run one call of the tool or command ``name`` as an outcome, whatever it raises.

    This is the one fallback every face's calls go through: a ``ToolError`` becomes its text; a
    Playwright error no tool foresaw (a navigation racing the action, a closed frame) becomes
    ``NAME failed: REASON``, worth a retry, unless the browser itself is gone, which raises
    ``SessionLostError``.
    """
    try:
        produced = await call()
    except SessionLostError:
        raise
    except ToolError as exc:
        return ToolOutcome(str(exc), True)
    except PlaywrightError as exc:
        if isinstance(ctx, ToolContext) and not ctx.session.alive:
            raise SessionLostError(
                "The session's browser died during the interaction. Start a new session."
            ) from exc
        log.warning("tool %s raised %s", name, exc)
        reason = first_line(exc)
        return ToolOutcome(f"{name} failed: {reason}", True, failure=reason)
    return produced if isinstance(produced, ToolOutcome) else ToolOutcome(produced)
