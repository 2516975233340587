"""The ``agent`` command line: one entry point, one module per subcommand.

Each command module defines ``register(subparsers)``, which adds its parser and sets
``handler=callable(args) -> int`` as a default. Commands that need heavy imports (the server,
the evals) import them when they run, so ``agent --help`` stays fast.

Exit status, for every command: 0 on success; 1 when the command failed (the reason is printed
on stderr as ``agent COMMAND: ...``); 2 for a usage error; 130 when interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from agent.cli import cache, demo, interact, mcp, scrape, serve
from agent.cli import eval as eval_command
from agent.errors import AgentError, one_line
from agent.executors import browser_cli

__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_USAGE", "build_parser", "main"]

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

_COMMANDS = (browser_cli, cache, demo, eval_command, interact, mcp, scrape, serve)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agent",
        description="Scrape a page into a real Chromium, then interact with it by prompt or code.",
        epilog="Exit status: 0 success, 1 the command failed (reason on stderr), 2 usage error.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in _COMMANDS:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except AgentError as exc:
        # Every error the library raises on purpose says what went wrong and what to do; print
        # that rather than a traceback.
        print(f"agent {args.command}: {one_line(exc)}", file=sys.stderr)
        return EXIT_FAILED
