"""The documentation's tables that mirror code, rendered from the code itself.

The settings (:class:`agent.config.Settings`, :class:`agent.server.ServerSettings`), the
planner's tools (``tools.BROWSER_TOOLS``), the MCP tools (``agent.mcp.catalog``), the ``agent
browser`` commands (``COMMANDS`` in ``agent.executors.browser_cli``) and the scrape request
(``ScrapeRequest``, its formats and actions) each have one declaration; the markdown files hold
their tables between markers::

    <!-- generated: settings -->
    | variable | default | meaning |
    ...
    <!-- end generated -->

``python -m agent.cli.doc_tables`` says which tables are stale (exit 1), ``--write`` rewrites
them. A description is the code's own (a field's ``description``, a tool's docstring, a command's
help), so a table changes only with the code; ``tests/docs/test_doc_tables.py`` fails on a stale
one.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from agent.config import Settings
from agent.errors import ConfigError
from agent.executors.browser_cli import COMMANDS, Arg
from agent.mcp.catalog import BROWSER_TOOLS, mcp_tools
from agent.service.schemas import ScrapeRequest
from agent.service.scrape_options import UNSUPPORTED_FORMATS, Action, FormatSpec, NotApplied
from agent.service.settings import ServerSettings
from tools import BROWSER_TOOLS as PLANNER_TOOLS

__all__ = ["MARKER", "TABLES", "DocTableError", "doc_files", "main", "refresh", "stale_tables"]

ROOT = Path(__file__).resolve().parents[2]
MARKER = re.compile(
    r"(?P<open><!-- generated: (?P<name>[a-z-]+) -->\n)(?P<body>.*?)"
    r"(?P<close><!-- end generated -->)",
    re.DOTALL,
)
DOC_DEFAULT = "doc_default"
"""``json_schema_extra`` key of a field whose default the code computes (from the machine, the
environment): the words the docs show instead, so the table is the same on every machine."""


class DocTableError(ConfigError):
    """A table cannot be rendered (a field without a description) or a marker is wrong."""


def _cell(text: str) -> str:
    """``text`` on one line of a table cell: ``|`` escaped everywhere, and outside code spans
    what markdown would read as HTML or emphasis (``<select>``, ``**/done``)."""
    parts = " ".join(text.split()).split("`")
    for i in range(0, len(parts), 2):  # the even parts are outside code spans
        parts[i] = parts[i].replace("<", "&lt;").replace("*", "\\*").replace("_", "\\_")
    return "`".join(parts).replace("|", "\\|")


def _table(head: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float) and value.is_integer():
        return f"`{int(value)}`"
    return f"`{value}`"


def _default(where: str, info: FieldInfo) -> str:
    """How a field's default reads in a table; a computed one must say it in words."""
    extra = info.json_schema_extra
    if isinstance(extra, dict) and DOC_DEFAULT in extra:
        return str(extra[DOC_DEFAULT])
    if info.default_factory is list:
        return "empty"
    if info.default_factory is dict:
        return "`{}`"
    if info.default_factory is not None or info.is_required():
        if info.is_required():
            return "required"
        raise DocTableError(
            f"{where}: its default is computed; say it in words with "
            f'json_schema_extra={{"{DOC_DEFAULT}": "..."}}, so the docs do not depend on the '
            "machine they are generated on."
        )
    return "unset" if info.default is None else _literal(info.default)


def _description(where: str, text: str | None) -> str:
    if not text:
        raise DocTableError(f"{where} has no description: give it one, the docs show it.")
    return text


def _settings_rows(model: type[BaseModel]) -> list[tuple[str, str, str]]:
    rows = []
    for name, info in model.model_fields.items():
        alias = info.validation_alias
        variable = alias.upper() if isinstance(alias, str) else f"AGENT_{name.upper()}"
        where = f"{model.__name__}.{name}"
        rows.append((f"`{variable}`", _default(where, info), _description(where, info.description)))
    return rows


def settings_table() -> str:
    """The agent's settings (``agent.config.Settings``)."""
    return _table(("variable", "default", "meaning"), _settings_rows(Settings))


def server_settings_table() -> str:
    """The HTTP server's settings (``ServerSettings``)."""
    return _table(("variable", "default", "meaning"), _settings_rows(ServerSettings))


def _arguments(schema: dict[str, Any], skip: Iterable[str] = ()) -> str:
    """A tool's arguments, required ones first and plain, optional ones in brackets."""
    required = schema.get("required", [])
    names = [n for n in schema.get("properties", {}) if n not in skip]
    names.sort(key=lambda n: n not in required)
    return ", ".join(f"`{n}`" if n in required else f"[`{n}`]" for n in names)


def planner_tools_table() -> str:
    """The planner's browser tools (``tools.BROWSER_TOOLS``) as the model sees them."""
    rows = [
        (f"`{t.name}`", _arguments(t.spec.parameters), _description(t.name, t.description))
        for t in PLANNER_TOOLS
    ]
    return _table(("tool", "arguments", "does"), rows)


def mcp_tools_table() -> str:
    """Every MCP tool as ``tools/list`` announces it."""
    rows = [
        (
            f"`{t.name}`",
            _arguments(t.input_schema, {"session_id"}),
            _description(t.name, t.description),
        )
        for t in mcp_tools()
    ]
    return _table(("tool", "arguments", "does"), rows) + (
        f"\nEvery browser tool ({len(BROWSER_TOOLS)} of them, `browser_*`) also takes an optional "
        "`session_id`: a session a `scrape` opened; without it, the connection's default browser.\n"
    )


def _arg_help(arg: Arg) -> str:
    shown = ", ".join(f"`{f}`" for f in arg.flags) or f"`{arg.metavar or arg.name.upper()}`"
    return f"{shown}: {arg.help}"


def browser_commands_table() -> str:
    """The ``agent browser`` commands as declared in ``COMMANDS``; an argument's help that many
    commands share (``TARGET``) is said once, below the table."""
    helps = [_arg_help(arg) for command in COMMANDS for arg in command.args if arg.help]
    shared = sorted({h for h in helps if helps.count(h) > 2})
    rows = []
    for command in COMMANDS:
        own = [_arg_help(a) for a in command.args if a.help and _arg_help(a) not in shared]
        does = command.help + (" (" + "; ".join(own) + ")" if own else "")
        aliases = ", ".join(f"`{a}`" for a in command.aliases)
        rows.append((f"`{command.usage()}`", aliases, does))
    return _table(("command", "also", "does"), rows) + "".join(f"\n{h}.\n" for h in shared)


def _variants(union: Any) -> list[type[BaseModel]]:
    """The models of an ``Annotated[A | B, Field(discriminator=...)]``."""
    return list(get_args(get_args(union)[0]))


def _field(info: FieldInfo, name: str) -> str:
    """One field of a format or an action: its name, choices or range, default, description."""
    text = f"`{info.alias or name}`"
    if get_origin(info.annotation) is Literal:
        text += " " + "/".join(f"`{choice}`" for choice in get_args(info.annotation))
    # pydantic keeps ge= and le= as metadata objects with those attributes.
    low = next((m.ge for m in info.metadata if getattr(m, "ge", None) is not None), None)
    high = next((m.le for m in info.metadata if getattr(m, "le", None) is not None), None)
    bounds = [f"{low}-{high}"] if low is not None and high is not None else []
    notes = [*bounds, *([info.description.rstrip(".")] if info.description else [])]
    if not info.is_required() and info.default not in (None, False):
        notes.append(f"default {_literal(info.default)}")
    marker = next((m for m in info.metadata if isinstance(m, NotApplied)), None)
    if marker is not None:
        notes.append(f"ignored with a warning: {marker.why}")
    return text + (f" ({'; '.join(notes)})" if notes else "")


def _fields(model: type[BaseModel]) -> str:
    return ", ".join(_field(info, n) for n, info in model.model_fields.items() if n != "type")


def _doc(model: type[BaseModel]) -> str:
    return " ".join((model.__doc__ or "").replace("``", "`").split())


def scrape_options_table() -> str:
    """Every top-level option of ``POST /v2/scrape``, and what this server does with it."""
    rows = []
    for name, info in ScrapeRequest.model_fields.items():
        option = info.alias or name
        where = f"ScrapeRequest.{name}"
        marker = next((m for m in info.metadata if isinstance(m, NotApplied)), None)
        if marker is not None:
            # A marker whose test refuses any value but True warns only when it is true.
            when = "" if marker.when("set") else " when true"
            here = f"Ignored with a warning{when}, named in `data.warning`: {marker.why}."
        else:
            here = _description(where, info.description)
        rows.append((f"`{option}`", _default(where, info), here))
    return _table(("option", "default", "here"), rows)


def scrape_formats_table() -> str:
    """The ``formats`` a scrape takes, with their fields; the Firecrawl ones it refuses."""
    rows = []
    for model in _variants(FormatSpec):
        names = get_args(model.model_fields["type"].annotation)
        rows.append((", ".join(f"`{n}`" for n in names), _fields(model), _doc(model)))
    refused = ", ".join(f"`{n}`" for n in sorted(UNSUPPORTED_FORMATS))
    return _table(("format", "fields", "what"), rows) + (
        f'\nA bare name (`"markdown"`) is read as `{{"type": "markdown"}}`. '
        f"Not supported, a 400 naming it: {refused}.\n"
    )


def scrape_actions_table() -> str:
    """The ``actions`` a scrape takes, with their fields."""
    rows = []
    for model in _variants(Action):
        (name,) = get_args(model.model_fields["type"].annotation)
        rows.append((f"`{name}`", _fields(model), _doc(model)))
    return _table(("action", "fields", "does"), rows)


TABLES: dict[str, Callable[[], str]] = {
    "settings": settings_table,
    "server-settings": server_settings_table,
    "planner-tools": planner_tools_table,
    "mcp-tools": mcp_tools_table,
    "browser-commands": browser_commands_table,
    "scrape-options": scrape_options_table,
    "scrape-formats": scrape_formats_table,
    "scrape-actions": scrape_actions_table,
}
"""Each table's marker name and its renderer."""


def doc_files(root: Path = ROOT) -> list[Path]:
    """The markdown files that may hold generated tables."""
    return [root / "README.md", root / "CONTRIBUTING.md", *sorted((root / "docs").glob("*.md"))]


def refresh(text: str, where: str, rendered: dict[str, str]) -> tuple[str, list[str]]:
    """``text`` with every generated table re-rendered, and the names of those that changed."""
    changed: list[str] = []

    def render(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in rendered:
            raise DocTableError(
                f"{where}: unknown generated table {name!r}; known: {', '.join(TABLES)}."
            )
        if match["body"] != rendered[name]:
            changed.append(name)
        return match["open"] + rendered[name] + match["close"]

    return MARKER.sub(render, text), changed


def stale_tables(root: Path = ROOT, *, write: bool = False) -> list[str]:
    """``file: table`` for every stale table (rewritten when ``write``).

    Raises:
        DocTableError: a marker names no table, a table is in no file, or a field or tool has
            no description.
    """
    rendered = {name: render() for name, render in TABLES.items()}
    stale: list[str] = []
    seen: set[str] = set()
    for path in doc_files(root):
        if not path.exists():
            continue
        text = path.read_text(encoding="utf-8")
        seen.update(m["name"] for m in MARKER.finditer(text))
        new, changed = refresh(text, str(path.relative_to(root)), rendered)
        stale += [f"{path.relative_to(root)}: {name}" for name in changed]
        if changed and write:
            path.write_text(new, encoding="utf-8")
    if missing := [name for name in TABLES if name not in seen]:
        raise DocTableError(
            f"no file holds the generated table(s) {', '.join(missing)}: put "
            "<!-- generated: NAME --> and <!-- end generated --> where each belongs."
        )
    return stale


def main(argv: Sequence[str] | None = None) -> int:
    """Check the tables (exit 1 when one is stale), or rewrite them with ``--write``."""
    parser = argparse.ArgumentParser(
        prog="python -m agent.cli.doc_tables", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--write", action="store_true", help="rewrite the stale tables")
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository's root")
    args = parser.parse_args(argv)
    try:
        stale = stale_tables(args.root, write=args.write)
    except DocTableError as exc:
        print(f"doc_tables: {exc}", file=sys.stderr)
        return 1
    for entry in stale:
        print(("rewrote " if args.write else "stale: ") + entry)
    if stale and not args.write:
        print("Run: python3 -m agent.cli.doc_tables --write", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
