"""The JavaScript the browser core runs in pages, loaded once from ``agent/browser/js/``.

Kept as files rather than strings so they can be read, linted and tested as JavaScript.
"""

from __future__ import annotations

from importlib.resources import files

__all__ = [
    "CHECK_ACTIONABLE",
    "CLICKABLES",
    "CLICKABLES_OF_PAGE",
    "CLICKABLES_OF_PAGE_FIRST",
    "CLICKABLE_BY_ID",
    "REF_OF",
    "REF_TAG",
    "TAB_ICONS",
    "UNTIL_IDLE",
]


def _load(name: str) -> str:
    return (files("agent.browser") / "js" / name).read_text(encoding="utf-8")


CLICKABLES = _load("clickables.js")
"""Scans a document (or an element) for inline elements only a pointer or onclick makes
clickable; returns ``{doc, items: [{id, text, context}]}``."""
_SCAN_KEY = 'Symbol.for("browser-agent.clickables.scan")'
CLICKABLES_OF_PAGE = f"""(() => {{
  const scan = globalThis[{_SCAN_KEY}];
  return typeof scan === "function" ? scan(null) : null;
}})()"""
"""The scan of a whole page (its document and the frames it reaches) by the scan function the
document was given (``CLICKABLES_OF_PAGE_FIRST``), as an expression; null when it has none."""
CLICKABLES_OF_PAGE_FIRST = f"(globalThis[{_SCAN_KEY}] = ({CLICKABLES.strip()}))(null)"
"""The first scan of a whole page, which gives the document the scan function: later scans send
a hundred bytes instead of the whole script."""
CLICKABLE_BY_ID = _load("clickable_by_id.js")
"""Finds a clickable the scan registered, by its id."""
REF_TAG = _load("ref_tag.js")
"""Marks an element with the number of the ref it was acted on by."""
REF_OF = _load("ref_of.js")
"""The ref number an element was marked with, or null."""
CHECK_ACTIONABLE = _load("check_actionable.js")
"""Says why an element cannot be acted on: detached, disabled, hidden, or covered (and by what)."""

TAB_ICONS = _load("tab_icons.js")
"""The addresses of the tab's icons, which the browser fetches for itself once the page has
loaded."""
UNTIL_IDLE = f"() => ({_load('until_idle.js').strip()})({TAB_ICONS.strip()})"
"""Resolves once the page's main thread has been idle (at most about half a second), with
``{icons, title}``: the tab's icon addresses (``TAB_ICONS``) and the page's title then."""
