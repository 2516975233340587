"""The eval sites' pages as the browser receives them: jinja2 templates rendered byte for byte.

The markup the pages share (layout, status line and event handler, choices, tables, filler text)
is written once in ``sites/_layout/parts.html``; each page imports what it needs. A page without
template tags is sent as it is written. The served bytes are what the cassettes recorded (their
requests hold the pages' snapshots), so a change to a template must render every page unchanged.
"""

from __future__ import annotations

import functools
from pathlib import Path

import jinja2

__all__ = ["SITES_DIR", "page_html"]

SITES_DIR = Path(__file__).resolve().parent / "sites"


@functools.cache
def _pages(root: Path) -> jinja2.Environment:
    # Block tags take their line with them, so a page's markup comes out byte for byte as written:
    # the cassettes hold the snapshots of these pages, and one changed node breaks their replay.
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(root),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )


def page_html(path: str, root: Path = SITES_DIR) -> bytes:
    """What a browser receives for the page at ``path`` (``suite/login.html``) under ``root``."""
    return _pages(root).get_template(path.lstrip("/")).render().encode()
