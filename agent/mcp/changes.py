"""What changed between two snapshots of one page, as the lines that differ.

An element keeps its ref for as long as it stays on the page (``agent.browser.refs``), so two
snapshots of one document differ only where the page did: a menu that opened, a message that
appeared, a checkbox that is now checked. After a click the model usually needs just that, not
the whole page again; this is ``browser_snapshot(mode="changes")``.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent.browser.snapshot import Snapshot

__all__ = ["snapshot_changes"]


def snapshot_changes(before: Snapshot, after: Snapshot) -> str | None:
    """The lines ``after`` added (``+``) and dropped (``-``) since ``before``.

    None when the two are not views of one document in one way, so that a diff would mean
    nothing: another URL, scope, mode or page of a capped snapshot, or no ref in common (a new
    document issues new refs).
    """
    same_view = (before.url, before.scope, before.mode, before.page) == (
        after.url,
        after.scope,
        after.mode,
        after.page,
    )
    if not same_view or (before.refs and after.refs and not before.refs.keys() & after.refs):
        return None
    old, new = before.text.splitlines(), after.text.splitlines()
    lines: list[str] = []
    added = removed = 0
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for kind, old_start, old_end, new_start, new_end in matcher.get_opcodes():
        if kind in ("replace", "delete"):
            lines.extend(f"- {line.strip()}" for line in old[old_start:old_end])
            removed += old_end - old_start
        if kind in ("replace", "insert"):
            lines.extend(f"+ {line.strip()}" for line in new[new_start:new_end])
            added += new_end - new_start
    if not lines:
        return "no changes since your last snapshot"
    header = f"changes since your last snapshot: {added} line(s) added, {removed} removed"
    return header + "\n" + "\n".join(lines)
