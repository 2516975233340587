"""The JavaScript the browser core runs in pages, loaded once from ``agent/browser/js/``.

Kept as files rather than strings so they can be read, linted and tested as JavaScript.
"""

from __future__ import annotations

from importlib.resources import files

__all__ = [
    "CHECK_ACTIONABLE",
    "CLICKABLES",
    "CLICKABLES_OF_PAGE",
    "CLICKABLE_BY_ID",
    "REF_OF",
    "REF_TAG",
]


def _load(name: str) -> str:
    return (files("agent.browser") / "js" / name).read_text(encoding="utf-8")


CLICKABLES = _load("clickables.js")
"""Scans a document (or an element) for inline elements only a pointer or onclick makes
clickable; returns ``{doc, items: [{id, text, context}]}``."""
CLICKABLES_OF_PAGE = f"({CLICKABLES.strip()})(null)"
"""The scan of a whole page (its document and the frames it reaches), as an expression."""
CLICKABLE_BY_ID = _load("clickable_by_id.js")
"""Finds a clickable the scan registered, by its id."""
REF_TAG = _load("ref_tag.js")
"""Marks an element with the number of the ref it was acted on by."""
REF_OF = _load("ref_of.js")
"""The ref number an element was marked with, or null."""
CHECK_ACTIONABLE = _load("check_actionable.js")
"""Says why an element cannot be acted on: detached, disabled, hidden, or covered (and by what)."""
