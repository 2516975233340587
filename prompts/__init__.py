"""The prompt templates (jinja2, ``*.j2`` in this package) and the one function that renders them.

Templates are rendered with ``StrictUndefined``: a variable the caller forgot fails loudly instead
of vanishing from the prompt.
"""

from __future__ import annotations

import functools
from importlib.resources import files
from typing import Any

import jinja2

__all__ = ["render", "template_names"]

_SUFFIX = ".j2"


def _load(name: str) -> str | None:
    resource = files(__name__) / name
    if not resource.is_file():
        return None
    return resource.read_text(encoding="utf-8")


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FunctionLoader(_load),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # prompts are plain text, not HTML
    )


def template_names() -> list[str]:
    """Every template in the package, by the name ``render`` takes (``system``, ...)."""
    return sorted(
        entry.name.removesuffix(_SUFFIX)
        for entry in files(__name__).iterdir()
        if entry.name.endswith(_SUFFIX)
    )


def render(name: str, /, **variables: Any) -> str:
    """Render the template ``name`` (``"system"`` or ``"system.j2"``) with ``variables``.

    Raises:
        jinja2.TemplateNotFound: there is no such template in the package.
        jinja2.UndefinedError: the template uses a variable that was not passed.
    """
    filename = name if name.endswith(_SUFFIX) else name + _SUFFIX
    return _environment().get_template(filename).render(**variables).strip()
