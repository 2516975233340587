"""Options more than one command takes, written once so they read and behave the same."""

from __future__ import annotations

import argparse

__all__ = ["add_log_options"]


def add_log_options(parser: argparse.ArgumentParser, *, level: str, level_help: str) -> None:
    """``--log-level`` (default ``level``) and ``--log-format`` (text or json lines)."""
    parser.add_argument("--log-level", default=level, help=f"{level_help} (default {level})")
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        help="log lines as text or one JSON object per line (AGENT_LOG_FORMAT, default text)",
    )
