"""What the offline demo model understands: a task read as simple commands, and the element each
command names, found in a snapshot by role and name.

A task is split into commands at "then", commas, semicolons, new lines and sentence ends (never
inside quotes); each command is one of::

    click NAME                      (also tap, press; "the", "button", "link" may frame NAME)
    fill NAME with TEXT             (also "type TEXT into NAME", "enter TEXT in NAME")
    check NAME / uncheck NAME
    select OPTION in NAME           (also choose, pick; from, for)
    what is the (main) heading      what is the title
    read the page                   what does it say

NAME and TEXT may be quoted ("Sign in", 'Ada') or not. Snapshot lines are read with
``agent.browser.grammar``, the one owner of that format.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from agent.browser.grammar import SnapshotLine

__all__ = ["Command", "CommandKind", "find_target", "parse_task"]

CommandKind = Literal[
    "click", "fill", "check", "uncheck", "select", "heading", "title", "read", "unknown"
]
_ACTIONS = frozenset({"click", "fill", "check", "uncheck", "select"})


@dataclass(frozen=True)
class Command:
    """One command of a task: what to do, on which element (by name), with which text."""

    kind: CommandKind
    said: str
    """The command as the task wrote it."""
    target: str = ""
    value: str = ""

    @property
    def acts(self) -> bool:
        """Whether it acts on the page (a tool call) rather than asking about it."""
        return self.kind in _ACTIONS


_QUOTED = re.compile(r'"([^"]*)"|\'([^\']*)\'|“([^”]*)”|‘([^’]*)’')
_VERBS = r"click|tap|press|fill|type|enter|check|uncheck|tick|untick|select|choose|pick|what|read"
_SPLIT = re.compile(
    rf"\s*(?:[,;\n]|\.\s+|\bthen\b|\band\b(?=\s+(?:then\b|{_VERBS})\b))\s*", re.IGNORECASE
)
_FILLER = re.compile(r"^(?:(?:and|then|please|now|also|tell me|finally)\b[\s,]*)+", re.IGNORECASE)
_THE = r"(?:the\s+)?"
_WHAT_IS = r"(?:what(?:'s|\s+is)\s+)?(?:the\s+)?(?:page(?:'s)?\s+)?"
_OF_PAGE = r"(?:\s+of\s+(?:the|this)\s+page)?"
_PAGE = r"(?:the\s+|this\s+)?page"
_SPELLINGS: tuple[tuple[CommandKind, str], ...] = (
    ("fill", rf"^(?:fill(?:\s+in|\s+out)?|set)\s+{_THE}(?P<target>.+?)"
             r"\s+(?:with|to)\s+(?P<value>.+)$"),
    ("fill", r"^(?:type|enter|write|put)\s+(?P<value>.+?)"
             rf"\s+(?:into|in)\s+{_THE}(?P<target>.+)$"),
    ("select", r"^(?:select|choose|pick)\s+(?P<value>.+?)"
               rf"\s+(?:in|from|for)\s+{_THE}(?P<target>.+)$"),
    ("uncheck", rf"^(?:uncheck|untick)\s+{_THE}(?P<target>.+)$"),
    ("check", rf"^(?:check|tick)\s+{_THE}(?P<target>.+)$"),
    ("click", rf"^(?:click|tap|press|push|hit)\s+(?:on\s+)?{_THE}(?P<target>.+)$"),
    ("title", rf"^{_WHAT_IS}title{_OF_PAGE}$"),
    ("heading", rf"^{_WHAT_IS}(?:main\s+|first\s+)?(?:heading|headline){_OF_PAGE}$"),
    ("heading", r"^what\s+does\s+the\s+(?:main\s+)?heading\s+say$"),
    ("read", rf"^read(?:\s+me)?\s+{_PAGE}(?:\s+to\s+me)?$"),
    ("read", r"^what\s+does\s+(?:it|the\s+page|this\s+page)\s+say$"),
    ("read", rf"^what(?:'s|\s+is)\s+on\s+{_PAGE}$"),
    ("read", rf"^summari[sz]e(?:\s+{_PAGE})?$"),
)  # fmt: skip
_PATTERNS = tuple((kind, re.compile(spelling, re.IGNORECASE)) for kind, spelling in _SPELLINGS)
_ROLE_WORDS = re.compile(
    r"\s+(?:button|link|field|box|checkbox|textbox|input|dropdown|menu|tab|option)$", re.I
)
_TARGET_ROLES: dict[CommandKind, frozenset[str]] = {
    "fill": frozenset({"textbox", "searchbox", "combobox", "spinbutton"}),
    "check": frozenset({"checkbox", "radio", "switch", "menuitemcheckbox", "menuitemradio"}),
    "uncheck": frozenset({"checkbox", "switch", "menuitemcheckbox"}),
    "select": frozenset({"combobox", "listbox"}),
}
# What a click most likely means when names tie: the element made for clicking.
_CLICK_FIRST = ("button", "link", "clickable", "tab", "menuitem", "checkbox", "radio", "option")


def parse_task(task: str) -> list[Command]:
    """The task's commands in order (``unknown`` for a part the demo model does not follow)."""
    quoted: list[str] = []

    def hide(match: re.Match[str]) -> str:
        quoted.append(next(group for group in match.groups() if group is not None))
        return f"\x00{len(quoted) - 1}\x00"

    hidden = _QUOTED.sub(hide, task)
    commands = []
    for part in _SPLIT.split(hidden):
        part = _FILLER.sub("", part.strip()).strip().rstrip(".?!").strip()
        if part:
            commands.append(_command(part, quoted))
    return commands


def _command(part: str, quoted: list[str]) -> Command:
    def restore(text: str) -> str:
        return re.sub(r"\x00(\d+)\x00", lambda m: quoted[int(m.group(1))], text).strip()

    for kind, pattern in _PATTERNS:
        match = pattern.match(part)
        if match:
            found = match.groupdict()
            return Command(
                kind,
                restore(part),
                target=restore(found.get("target") or ""),
                value=restore(found.get("value") or ""),
            )
    return Command("unknown", restore(part))


def find_target(lines: Sequence[SnapshotLine], command: Command) -> SnapshotLine | None:
    """The element ``command`` names among a snapshot's lines: an exact name first, then one
    that starts with it, then one that holds it (a field's placeholder counts as its name);
    among equals, the first of the roles the command acts on."""
    roles = _TARGET_ROLES.get(command.kind)
    pool = [line for line in lines if line.ref and (roles is None or line.role in roles)]
    for wanted in _variants(command.target):
        for test in (str.__eq__, str.startswith, str.__contains__):
            hits = [line for line in pool if _named(line, wanted, test)]
            if hits:
                return min(hits, key=_preference)
    return None


def _variants(name: str) -> list[str]:
    """The name as given, then without a role word the task added ("the Save button")."""
    name = name.strip().casefold()
    bare = _ROLE_WORDS.sub("", name).strip()
    return [name, bare] if bare and bare != name else [name]


def _named(line: SnapshotLine, wanted: str, test: Callable[[str, str], bool]) -> bool:
    if not wanted:
        return False
    return any(test(name.casefold(), wanted) for name in (line.name, line.placeholder) if name)


def _preference(line: SnapshotLine) -> tuple[int, int]:
    rank = _CLICK_FIRST.index(line.role) if line.role in _CLICK_FIRST else len(_CLICK_FIRST)
    return rank, line.index
