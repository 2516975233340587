"""``agent browser``: drive the page of the session whose code runs this, with its own refs.

Inside bash code run by a session (``run_code(session, ..., "bash")``), ``agent browser snapshot
-i`` and ``agent browser click @e2`` act on that session's current page with the refs the planner
sees; the commands follow agent-browser's conventions (see ``_DESCRIPTION``). This is a client:
it sends the parsed command to the session's ``agent.executors.browser_rpc`` server, found through
``AGENT_SESSION_SOCKET`` and ``AGENT_SESSION_TOKEN``, which the bash executor sets.

The bash executor's ``agent`` shim runs this file directly (``python -I -S browser.py``) so that a
command costs a python start-up, not a Playwright import: it imports only the standard library.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

__all__ = [
    "BrowserCommandError",
    "add_arguments",
    "build_parser",
    "call",
    "execute",
    "main",
    "register",
]

SOCKET_ENV = "AGENT_SESSION_SOCKET"
TOKEN_ENV = "AGENT_SESSION_TOKEN"
_TIMEOUT_S = 600.0
_DESCRIPTION = """\
Drive the page of the session that runs this code, with the refs its snapshots give.

    snapshot [-i] [-c] [-d N] [-s CSS]    open URL    back    forward    reload
    click|dblclick|hover|check|uncheck TARGET         fill|type TARGET TEXT
    select TARGET VALUE...    press KEY [TARGET]    scroll [DIR] [PX] [--selector TARGET]
    scrollintoview TARGET     get text|html|value|attr|title|url|count [TARGET] [ATTR]
    is visible|enabled|checked TARGET    find role|text|label|placeholder VALUE ACTION [TEXT]
    wait [REF|CSS|MS] [--text T] [--url U] [--load STATE]    eval JS    screenshot [PATH]
    tab [list | new [URL] | close [tN] | tN]

TARGET is a ref from the latest snapshot (@e3, e3, ref=e3) or a CSS selector.
Exit status: 0 with the result on stdout; 1 with a one-line reason on stderr when the command
failed (stale ref, no such element, covered); 2 for a usage error; 3 when no session answers.
"""
_INTERNAL = frozenset({"command", "handler", "browser_command", "socket", "token", "help"})


class BrowserCommandError(Exception):
    """A command failed; its message is the one-line reason."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def call(
    command: str,
    args: dict[str, Any],
    *,
    socket_path: str | None = None,
    token: str | None = None,
    timeout_s: float = _TIMEOUT_S,
) -> str:
    """Send one command to the session's server; return its output or raise with the reason."""
    socket_path = socket_path or os.environ.get(SOCKET_ENV)
    token = token or os.environ.get(TOKEN_ENV)
    if not socket_path or not token:
        raise BrowserCommandError(
            f"no session to talk to: {SOCKET_ENV} and {TOKEN_ENV} are not set. `agent browser` "
            "works inside bash code that a session runs (run_code(..., 'bash')).",
            3,
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
        raise BrowserCommandError(
            f"cannot reach the session at {socket_path} ({exc}); it may have been closed.", 3
        ) from exc
    try:
        reply = json.loads(b"".join(chunks))
    except ValueError:
        raise BrowserCommandError("the session sent no answer (it may be closing).", 3) from None
    if not reply.get("ok"):
        raise BrowserCommandError(str(reply.get("error") or "the command failed"))
    return str(reply.get("output", ""))


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line, like every other failure of the command."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} -h)\n")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add every ``agent browser`` command to ``parser`` as a sub-command."""
    parser.add_argument("--socket", help=f"the session's socket (default: ${SOCKET_ENV})")
    parser.add_argument("--token", help=f"the run's access token (default: ${TOKEN_ENV})")
    sub = parser.add_subparsers(
        dest="browser_command", required=True, metavar="COMMAND", parser_class=_Parser
    )

    def command(name: str, help_text: str, aliases: Sequence[str] = ()) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, aliases=list(aliases))
        p.set_defaults(browser_command=name)
        return p

    def target(p: argparse.ArgumentParser) -> None:
        p.add_argument("target", help="a ref from the snapshot (@e3) or a CSS selector")

    p = command("snapshot", "the page's elements with refs (@e1, @e2, ...)")
    p.add_argument("-i", "--interactive", action="store_true", help="only elements to act on")
    p.add_argument("-c", "--compact", action="store_true", help="drop empty structural lines")
    p.add_argument("-d", "--depth", type=int, help="nest at most this deep")
    p.add_argument("-s", "--selector", help="only under this element (CSS selector or ref)")

    p = command("open", "open a URL in the current tab", aliases=("goto", "navigate"))
    p.add_argument("url")
    command("back", "go back in the tab's history")
    command("forward", "go forward in the tab's history")
    command("reload", "reload the page")

    for name, help_text in (
        ("click", "click an element"),
        ("dblclick", "double-click an element"),
        ("hover", "move the mouse over an element"),
        ("check", "tick a checkbox or choose a radio button"),
        ("uncheck", "untick a checkbox"),
        ("scrollintoview", "scroll an element into view"),
    ):
        aliases = ("scrollinto",) if name == "scrollintoview" else ()
        target(command(name, help_text, aliases=aliases))

    p = command("fill", "replace a field's text")
    target(p)
    p.add_argument("text")
    p = command("type", "type text key by key into a field, after what it holds")
    target(p)
    p.add_argument("text")
    p = command("select", "choose options of a <select> by label or value")
    target(p)
    p.add_argument("values", nargs="+")
    p = command("press", "press a key (Enter, Tab, Control+a), on an element or the focus")
    p.add_argument("key")
    p.add_argument("target", nargs="?", help="the element to focus first")
    p = command("scroll", "scroll the page or an element")
    p.add_argument("direction", nargs="?", default="down", choices=("up", "down", "left", "right"))
    p.add_argument("pixels", nargs="?", type=int)
    p.add_argument("--selector", help="scroll this element (ref or CSS) instead of the page")

    p = command("get", "read from the page: text, html, value, attr, title, url or count")
    p.add_argument("what", choices=("text", "html", "value", "attr", "title", "url", "count"))
    p.add_argument("target", nargs="?")
    p.add_argument("name", nargs="?", help="the attribute, for get attr")
    p = command("is", "true or false: is the element visible, enabled or checked")
    p.add_argument("what", choices=("visible", "enabled", "checked"))
    target(p)
    p = command("find", "find an element by role, text, label or placeholder, and act on it")
    p.add_argument("by", choices=("role", "text", "label", "placeholder", "alt", "title", "testid"))
    p.add_argument("value")
    p.add_argument(
        "action", choices=("click", "dblclick", "fill", "type", "check", "uncheck", "hover", "text")
    )
    p.add_argument("text", nargs="?", help="the text for fill and type")
    p.add_argument("--name", help="for role: the accessible name")
    p.add_argument("--exact", action="store_true", help="match the text exactly")
    p = command("wait", "wait for an element, some text, a URL, a load state or some ms")
    p.add_argument("target", nargs="?", help="a ref or CSS selector to be visible, or ms")
    p.add_argument("--text")
    p.add_argument("--url", help="a substring or a glob such as **/done")
    p.add_argument("--load", choices=("load", "domcontentloaded", "networkidle"))
    p.add_argument("--timeout", type=int, help="milliseconds (default 10000)")
    p = command("eval", "run JavaScript in the page and print its value")
    p.add_argument("script", help="the JavaScript; - reads it from stdin")
    p = command("screenshot", "save a PNG of the page; print its path")
    p.add_argument("path", nargs="?")
    p.add_argument("--full", action="store_true", help="the whole page, not just the viewport")
    p = command("tab", "tab list | tab new [URL] | tab close [tN] | tab tN")
    p.add_argument("action", nargs="?", default="list")
    p.add_argument("arg", nargs="?")


def _request(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    command = str(args.browser_command)
    fields = {k: v for k, v in vars(args).items() if k not in _INTERNAL}
    if command == "eval" and fields.get("script") == "-":
        fields["script"] = sys.stdin.read()
    if command == "screenshot" and fields.get("path"):
        fields["path"] = os.path.abspath(fields["path"])  # the server runs elsewhere
    return command, fields


def _execute(args: argparse.Namespace) -> tuple[int, str]:
    command, fields = _request(args)
    try:
        return 0, call(command, fields, socket_path=args.socket, token=args.token)
    except BrowserCommandError as exc:
        return exc.exit_code, f"agent browser {command}: {' '.join(str(exc).split())}"


def _handle(args: argparse.Namespace) -> int:
    exit_code, text = _execute(args)
    if exit_code:
        print(text, file=sys.stderr)
    elif text:
        print(text)
    return exit_code


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``agent browser`` on its own (as the bash shim runs it)."""
    parser = _Parser(
        prog="agent browser",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    return parser


def execute(argv: Sequence[str]) -> tuple[int, str]:
    """Run one command line; return its exit status and its output (or one-line reason)."""
    return _execute(build_parser().parse_args(argv))


def register(subparsers: Any) -> None:
    """Add ``agent browser`` to the ``agent`` command line."""
    parser = subparsers.add_parser(
        "browser",
        help="drive the current session's page from bash code (snapshot, click @e2, ...)",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    parser.set_defaults(handler=_handle)


def main(argv: Sequence[str] | None = None) -> int:
    return _handle(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
