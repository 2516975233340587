"""A recipe as a bash script in agent-browser's command language, which runs unchanged in a
session's bash code (``agent interact --bash``), and as far as it uses only agent-browser's own
commands, on Firecrawl too.

Steps agent-browser's ``find`` cannot say (a position among equals, a landmark, an iframe, a
dropdown option, a double click, typing key by key, scrolling a region, waiting for an element)
use this project's ``agent browser find``, which takes the same words plus ``--within``,
``--within-name``, ``--nth``, ``--frame`` and ``--frame-nth``. Every value is quoted
for the shell: names and values come from the page and the model.
"""

from __future__ import annotations

from shlex import quote
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.recipes.model import Recipe, RecipeStep
    from tools.find import Description

__all__ = ["render_bash"]

# Actions agent-browser's own find has; the others go to ``agent browser find``.
_AGENT_BROWSER_FIND = frozenset({"click", "fill", "check", "hover", "text"})
_FIND_ACTION = {
    "click": "click", "dblclick": "dblclick", "fill": "fill", "type": "type", "hover": "hover",
    "check": "check", "uncheck": "uncheck", "select_option": "select", "get_text": "text",
    "press": "focus", "scroll": "scroll", "wait_for": "wait",
}  # fmt: skip


def render_bash(recipe: Recipe) -> str:
    """The recipe as a script: one command per step, stopping at the first that fails."""
    lines = ["#!/bin/sh", "set -e"]
    for number, step in enumerate(recipe.steps, 1):
        lines.extend(_lines(number, step))
    return "\n".join(lines) + "\n"


def _lines(number: int, step: RecipeStep) -> list[str]:
    args = step.arguments
    if step.target is None:
        plain = _plain(step.tool, args)
        if plain is not None:
            return [plain]
        return [
            f"# step {number} ({step.tool}): its element could not be described for a replay",
            f"echo {quote(f'step {number} ({step.tool}) must be done by hand')} >&2; exit 1",
        ]
    action = _FIND_ACTION[step.tool]
    value: str | None = None
    if step.tool == "fill":
        value = str(args.get("value", ""))
    elif step.tool == "type":
        value = str(args.get("text", ""))
    elif step.tool == "select_option":
        value = ",".join(str(v) for v in args.get("values") or ())
    elif step.tool == "scroll":
        amount = args.get("amount")
        value = str(args.get("direction", "down")) + (f" {int(amount)}" if amount else "")
    lines = []
    if step.tool == "wait_for" and args.get("text"):
        lines.append(f"agent-browser wait --text {quote(str(args['text']))}")
    if step.tool == "wait_for" and args.get("load_state"):
        lines.append(f"agent-browser wait --load {quote(str(args['load_state']))}")
    lines.append(_find(step.target, action, value))
    if step.tool == "press":
        lines.append(f"agent-browser press {quote(str(args.get('key', '')))}")
    if step.tool == "type" and args.get("submit"):
        lines.append("agent-browser press Enter")
    return lines


def _find(target: Description, action: str, value: str | None) -> str:
    ours = (
        action not in _AGENT_BROWSER_FIND
        or target.within is not None
        or target.among > 1
        or (target.kind == "role" and not target.name)
        or bool(target.frames)
    )
    words = ["agent browser find" if ours else "agent-browser find", target.kind]
    words.append(quote(target.value))
    words.append(action)
    if value is not None:
        words.append(quote(value))
    if target.kind == "role" and target.name:
        words.append(f"--name {quote(target.name)}")
    words.append("--exact")
    if target.within is not None:
        words.append(f"--within {quote(target.within.role)}")
        if target.within.name:
            words.append(f"--within-name {quote(target.within.name)}")
    if target.among > 1:
        words.append(f"--nth {target.nth}")
    for frame in target.frames:
        words.append(f"--frame {quote(frame.title)}")
    if any(frame.among > 1 for frame in target.frames):
        words.extend(f"--frame-nth {frame.nth}" for frame in target.frames)
    return " ".join(words)


def _plain(tool: str, args: dict[str, Any]) -> str | None:
    """A step with no element, as an agent-browser command; None when it needs one."""
    if tool == "navigate":
        return f"agent-browser open {quote(str(args.get('url', '')))}"
    if tool == "go_back":
        return "agent-browser back"
    if tool == "press":
        return f"agent-browser press {quote(str(args.get('key', '')))}"
    if tool == "scroll":
        amount = args.get("amount")
        direction = quote(str(args.get("direction", "down")))
        return f"agent-browser scroll {direction}" + (f" {int(amount)}" if amount else "")
    if tool == "get_text":
        return "agent-browser get text body"
    if tool == "wait_for":
        if args.get("text"):
            return f"agent-browser wait --text {quote(str(args['text']))}"
        if args.get("load_state"):
            return f"agent-browser wait --load {quote(str(args['load_state']))}"
    return None
