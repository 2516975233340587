"""``agent browser``: drive the page of the session whose code runs this, with its own refs.

Inside bash code run by a session (``run_code(session, ..., "bash")``), ``agent browser snapshot
-i`` and ``agent browser click @e2`` act on that session's current page with the refs the planner
sees. This module is where every command is **declared, once**: ``COMMANDS`` gives each one's
name, arguments and help; the parser is built from it here, and the session side
(``agent.executors.browser_commands``) binds each declared name to its handler and refuses to
import if a command lacks one or a handler is undeclared.

It is also a client: the parsed command goes to the session's ``agent.executors.browser_rpc``
server, found through ``AGENT_SESSION_SOCKET`` and ``AGENT_SESSION_TOKEN``, which the bash
executor sets. It imports only the standard library and runs by path (``python -I -S``). Bash
code reaches it through ``agent.executors.browser_client``, a client that imports next to nothing
and sends the raw command line, which the server parses with this module's parser
(``parse_command_line``) and answers as this client would have (``outcome``, ``printed``);
that client hands this one what it does not do itself (help, ``--socket``, no session).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import posixpath
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

__all__ = [
    "COMMANDS",
    "EXIT_FAILED",
    "EXIT_NO_SESSION",
    "EXIT_USAGE",
    "SOCKET_ENV",
    "TOKEN_ENV",
    "Arg",
    "Command",
    "CommandLineExit",
    "Reply",
    "add_arguments",
    "build_parser",
    "call",
    "execute",
    "main",
    "outcome",
    "parse_command_line",
    "printed",
    "reads_stdin",
    "register",
    "reply_of",
    "resolve_paths",
]

SOCKET_ENV = "AGENT_SESSION_SOCKET"
TOKEN_ENV = "AGENT_SESSION_TOKEN"
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NO_SESSION = 3
_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class Arg:
    """One argument of a command: a positional ``name`` or a flag (``flags``), with argparse's
    options (``nargs``, ``choices``, ``type``, ``action``, ``default``)."""

    name: str
    help: str | None = None
    flags: tuple[str, ...] = ()
    metavar: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def usage(self) -> str:
        """How the argument reads in the command list: ``TARGET``, ``[PX]``, ``[-d N]``."""
        metavar = self.metavar or self.name.upper()
        if self.flags:
            flag = self.flags[0]
            switch = self.options.get("action") in ("store_true", "store_false")
            return f"[{flag}]" if switch else f"[{flag} {metavar}]"
        nargs = self.options.get("nargs")
        if nargs == "?":
            return f"[{metavar}]"
        if nargs == "+":
            return f"{metavar}..."
        return metavar


@dataclass(frozen=True)
class Command:
    """One ``agent browser`` command; its handler is ``BrowserCommands.cmd_<name>``."""

    name: str
    help: str
    args: tuple[Arg, ...] = ()
    aliases: tuple[str, ...] = ()

    def usage(self) -> str:
        return " ".join([self.name, *(arg.usage() for arg in self.args)])


_TARGET = Arg("target", "a ref from the snapshot (@e3) or a CSS selector")
_TEXT = Arg("text")

COMMANDS: tuple[Command, ...] = (
    Command(
        "snapshot",
        "the page's elements with refs (@e1, @e2, ...)",
        (
            Arg("interactive", "only elements to act on", ("-i", "--interactive"),
                options={"action": "store_true"}),
            Arg("compact", "drop empty structural lines", ("-c", "--compact"),
                options={"action": "store_true"}),
            Arg("depth", "nest at most this deep", ("-d", "--depth"), "N", {"type": int}),
            Arg("selector", "only under this element (CSS selector or ref)", ("-s", "--selector"),
                "CSS"),
        ),
    ),
    Command("open", "open a URL in the current tab", (Arg("url"),), ("goto", "navigate")),
    Command("back", "go back in the tab's history"),
    Command("forward", "go forward in the tab's history"),
    Command("reload", "reload the page"),
    Command("click", "click an element", (_TARGET,)),
    Command("dblclick", "double-click an element", (_TARGET,)),
    Command("hover", "move the mouse over an element", (_TARGET,)),
    Command("check", "tick a checkbox or choose a radio button", (_TARGET,)),
    Command("uncheck", "untick a checkbox", (_TARGET,)),
    Command("fill", "replace a field's text", (_TARGET, _TEXT)),
    Command("type", "type text key by key into a field, after what it holds", (_TARGET, _TEXT)),
    Command(
        "select",
        "choose options of a <select> by label or value",
        (_TARGET, Arg("values", metavar="VALUE", options={"nargs": "+"})),
    ),
    Command(
        "press",
        "press a key (Enter, Tab, Control+a), on an element or the focus",
        (Arg("key"), Arg("target", "the element to focus first", options={"nargs": "?"})),
    ),
    Command(
        "scroll",
        "scroll the page or an element",
        (
            Arg("direction", metavar="DIR", options={
                "nargs": "?", "default": "down", "choices": ("up", "down", "left", "right")}),
            Arg("pixels", metavar="PX", options={"nargs": "?", "type": int}),
            Arg("selector", "scroll this element (ref or CSS) instead of the page",
                ("--selector",), "TARGET"),
        ),
    ),
    Command("scrollintoview", "scroll an element into view", (_TARGET,), ("scrollinto",)),
    Command("drag", "drag an element and drop it onto another",
            (_TARGET, Arg("to", "where to drop it: a ref or a CSS selector"))),
    Command(
        "get",
        "read from the page: text, html, value, attr, title, url or count",
        (
            Arg("what", metavar="text|html|value|attr|title|url|count", options={
                "choices": ("text", "html", "value", "attr", "title", "url", "count")}),
            Arg("target", options={"nargs": "?"}),
            Arg("name", "the attribute, for get attr", metavar="ATTR", options={"nargs": "?"}),
        ),
    ),
    Command(
        "is",
        "true or false: is the element visible, enabled or checked",
        (Arg("what", metavar="visible|enabled|checked",
             options={"choices": ("visible", "enabled", "checked")}), _TARGET),
    ),
    Command(
        "find",
        "find an element by role, text, label or placeholder, and act on it",
        (
            Arg("by", metavar="role|text|label|placeholder|alt|title|testid", options={
                "choices": ("role", "text", "label", "placeholder", "alt", "title", "testid")}),
            Arg("value"),
            Arg("action", metavar="ACTION", options={"choices": (
                "click", "dblclick", "fill", "type", "check", "uncheck", "hover", "text",
                "select", "focus", "scroll", "wait")}),
            Arg("text", "the text for fill and type; the option(s) for select, comma-separated; "
                "for scroll, the direction and pixels ('down 500')", options={"nargs": "?"}),
            Arg("name", "for role: the accessible name", ("--name",)),
            Arg("exact", "match the text exactly", ("--exact",),
                options={"action": "store_true"}),
            Arg("within", "look only inside the landmark of this role (main, navigation, form, "
                "region, ...)", ("--within",), "ROLE"),
            Arg("within_name", "the landmark's exact accessible name", ("--within-name",),
                "NAME"),
            Arg("nth", "the element at this position among the matches (0-based); without it "
                "more than one match is an error", ("--nth",), "N", {"type": int}),
            Arg("frame", "look inside the iframe of this title; repeat it for an iframe inside "
                "that one", ("--frame",), "TITLE", {"action": "append"}),
            Arg("frame_nth", "with --frame: that iframe's position among the iframes of its "
                "title (0-based), one per --frame", ("--frame-nth",), "N",
                {"action": "append", "type": int}),
        ),
    ),
    Command(
        "wait",
        "wait for an element, some text, a URL, a load state or some ms",
        (
            Arg("target", "a ref or CSS selector to be visible, or ms", metavar="REF|CSS|MS",
                options={"nargs": "?"}),
            Arg("text", flags=("--text",), metavar="T"),
            Arg("url", "a substring or a glob such as **/done", ("--url",), "U"),
            Arg("load", flags=("--load",), metavar="STATE",
                options={"choices": ("load", "domcontentloaded", "networkidle")}),
            Arg("timeout", "milliseconds (default 10000)", ("--timeout",), "MS", {"type": int}),
        ),
    ),
    Command("eval", "run JavaScript in the page and print its value",
            (Arg("script", "the JavaScript; - reads it from stdin", metavar="JS"),)),
    Command(
        "screenshot",
        "save a PNG of the page; print its path",
        (
            Arg("path", options={"nargs": "?"}),
            Arg("full", "the whole page, not just the viewport", ("--full",),
                options={"action": "store_true"}),
        ),
    ),
    Command(
        "tab",
        "tab list | tab new [URL] | tab close [tN] | tab tN",
        (
            Arg("action", metavar="list|new|close|tN", options={"nargs": "?", "default": "list"}),
            Arg("arg", metavar="URL|tN", options={"nargs": "?"}),
        ),
    ),
)  # fmt: skip


def _description() -> str:
    # Usage lines only: the command list argparse adds below gives each one's help.
    listing = "\n".join(f"    {command.usage()}" for command in COMMANDS)
    return (
        "Drive the page of the session that runs this code, with the refs its snapshots give.\n\n"
        f"{listing}\n\n"
        "TARGET is a ref from the latest snapshot (@e3, e3, ref=e3) or a CSS selector.\n"
        f"Exit status: 0 with the result on stdout; {EXIT_FAILED} with a one-line reason on "
        "stderr when the command\nfailed (stale ref, no such element, covered); "
        f"{EXIT_USAGE} for a usage error; {EXIT_NO_SESSION} when no session answers.\n"
    )


@dataclass(frozen=True)
class Reply:
    """What a command answered: its exit status and its output, or its one-line reason."""

    exit_code: int
    text: str


def call(
    command: str,
    args: dict[str, Any],
    *,
    socket_path: str | None = None,
    token: str | None = None,
    timeout_s: float = _TIMEOUT_S,
) -> Reply:
    """Send one command to the session's server and return its reply."""
    socket_path = socket_path or os.environ.get(SOCKET_ENV)
    token = token or os.environ.get(TOKEN_ENV)
    if not socket_path or not token:
        return Reply(
            EXIT_NO_SESSION,
            "no session to talk to: `agent browser` acts on a session's page from inside the "
            "bash code that session runs. Run it through the session, e.g. `agent interact "
            "--bash -c 'agent browser snapshot -i'` after `agent scrape URL` (or POST "
            '/v2/scrape/{id}/interact with {"code": "agent browser snapshot -i", "language": '
            f'"bash"}}); {SOCKET_ENV} and {TOKEN_ENV} are not set here.',
        )
    request = {"token": token, "command": command, "args": args}
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(timeout_s)
            client.connect(socket_path)
            client.sendall(json.dumps(request).encode() + b"\n")
            chunks = []
            while chunk := client.recv(65536):
                chunks.append(chunk)
    except OSError as exc:
        return Reply(
            EXIT_NO_SESSION,
            f"cannot reach the session at {socket_path} ({exc}); it may have been closed.",
        )
    try:
        reply = json.loads(b"".join(chunks))
    except ValueError:
        return Reply(EXIT_NO_SESSION, "the session sent no answer (it may be closing).")
    return reply_of(reply)


def reply_of(answer: dict[str, Any]) -> Reply:
    """The reply a server's answer (``{"ok", "output"}`` or ``{"ok": false, "error"}``) means."""
    if not answer.get("ok"):
        return Reply(EXIT_FAILED, str(answer.get("error") or "the command failed"))
    return Reply(0, str(answer.get("output", "")))


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line, like every other failure of the command."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} -h)\n")


class CommandLineExit(Exception):
    """Where the client's parser would have stopped: printed ``message`` on stderr and exited
    with ``status`` (a usage error), or, with ``status`` None, printed its help (or met the
    client's own ``--socket``/``--token``), which is the declared client's to do."""

    def __init__(self, status: int | None, message: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Answering(_Parser):
    """The client's parser, on the server's side: what it would print and exit with is raised."""

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise CommandLineExit(status, message or "")

    def print_help(self, file: Any = None) -> None:
        raise CommandLineExit(None)


def add_arguments(parser: argparse.ArgumentParser, parser_class: type[_Parser] = _Parser) -> None:
    """Add every declared ``agent browser`` command to ``parser`` as a sub-command."""
    parser.add_argument("--socket", help=f"the session's socket (default: ${SOCKET_ENV})")
    parser.add_argument("--token", help=f"the run's access token (default: ${TOKEN_ENV})")
    sub = parser.add_subparsers(
        dest="browser_command", required=True, metavar="COMMAND", parser_class=parser_class
    )
    for command in COMMANDS:
        p = sub.add_parser(command.name, help=command.help, aliases=list(command.aliases))
        p.set_defaults(browser_command=command.name)
        for arg in command.args:
            options = {"help": arg.help, **arg.options}
            if arg.metavar:
                options["metavar"] = arg.metavar
            if arg.flags:
                p.add_argument(*arg.flags, dest=arg.name, **options)
            else:
                p.add_argument(arg.name, **options)


def _fields(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    command = str(args.browser_command)
    declared = next(c for c in COMMANDS if c.name == command)
    return command, {arg.name: getattr(args, arg.name) for arg in declared.args}


def reads_stdin(command: str, fields: dict[str, Any]) -> bool:
    """Whether the command's input is the client's stdin (``eval -``)."""
    return command == "eval" and fields.get("script") == "-"


def resolve_paths(command: str, fields: dict[str, Any], cwd: Callable[[], str]) -> dict[str, Any]:
    """``fields`` with a relative path made absolute from the client's working folder, as
    ``cwd()`` gives it (the server runs elsewhere)."""
    if command == "screenshot" and fields.get("path"):
        return {**fields, "path": posixpath.normpath(posixpath.join(cwd(), fields["path"]))}
    return fields


def _request(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    command, fields = _fields(args)
    if reads_stdin(command, fields):
        fields["script"] = sys.stdin.read()
    return command, resolve_paths(command, fields, os.getcwd)


def outcome(command: str, reply: Reply) -> tuple[int, str]:
    """The exit status and what to print for a command's reply (its one-line reason on
    failure, prefixed with the command)."""
    if reply.exit_code:
        return reply.exit_code, f"agent browser {command}: {' '.join(reply.text.split())}"
    return 0, reply.text


def printed(exit_code: int, text: str) -> tuple[int, str]:
    """Where an outcome goes (1 stdout, 2 stderr) and the text written there."""
    if exit_code:
        return 2, text + "\n"
    return 1, text + "\n" if text else ""


def _execute(args: argparse.Namespace) -> tuple[int, str]:
    command, fields = _request(args)
    reply = call(command, fields, socket_path=args.socket, token=args.token)
    return outcome(command, reply)


def _handle(args: argparse.Namespace) -> int:
    exit_code, text = _execute(args)
    fd, written = printed(exit_code, text)
    (sys.stdout if fd == 1 else sys.stderr).write(written)
    return exit_code


def build_parser(parser_class: type[_Parser] = _Parser) -> argparse.ArgumentParser:
    """The parser of ``agent browser`` on its own (as the bash shim runs it)."""
    parser = parser_class(
        prog="agent browser",
        description=_description(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser, parser_class)
    return parser


@functools.cache
def _answering_parser() -> argparse.ArgumentParser:
    return build_parser(_Answering)


def parse_command_line(argv: Sequence[str]) -> tuple[str, dict[str, Any]]:
    """``agent browser ARGV`` parsed as the client parses it: the command and its fields.

    For a client that sends its command line as it is (``agent.executors.browser_client``).

    Raises:
        CommandLineExit: the client would have stopped there (see its docstring).
    """
    args = _answering_parser().parse_args(argv)
    if args.socket is not None or args.token is not None:
        raise CommandLineExit(None)
    return _fields(args)


def execute(argv: Sequence[str]) -> tuple[int, str]:
    """Run one command line; return its exit status and its output (or one-line reason)."""
    return _execute(build_parser().parse_args(argv))


def register(subparsers: Any) -> None:
    """Add ``agent browser`` to the ``agent`` command line."""
    parser = subparsers.add_parser(
        "browser",
        help="drive the current session's page from bash code (snapshot, click @e2, ...)",
        description=_description(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    parser.set_defaults(handler=_handle)


def main(argv: Sequence[str] | None = None) -> int:
    return _handle(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
