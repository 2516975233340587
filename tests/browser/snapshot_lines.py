"""Reading a rendered snapshot in a test: the ref of the line a test means."""

from __future__ import annotations

import re

from agent.browser import grammar

__all__ = ["ref_of"]


def ref_of(text: str, pattern: str) -> str:
    """The @eN of the first snapshot line matching ``pattern``."""
    for line in grammar.parse_snapshot(text):
        if re.search(pattern, line.text):
            assert line.ref, f"line {line.text!r} has no ref"
            return line.ref
    raise AssertionError(f"no line matches {pattern!r} in:\n{text}")
