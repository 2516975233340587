"""The parts of a scrape request below its top level: formats and actions, as Firecrawl v2 defines
them, and the marker of an option this server accepts without applying.

Firecrawl's format objects are strict; its action objects silently drop keys they do not know.
Here both are strict, so a misspelt option (``fullpage``, ``selecter``) is a 400 naming it
rather than an option that quietly does nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from jsonschema import SchemaError, validators
from jsonschema.protocols import Validator
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel
from referencing import Registry

__all__ = [
    "MAX_ACTIONS",
    "MAX_ACTIONS_WAIT_MS",
    "MAX_PROMPT_CHARS",
    "MODEL_FORMATS",
    "SUPPORTED_FORMATS",
    "UNSUPPORTED_FORMATS",
    "Action",
    "ClickAction",
    "ExecuteJavascriptAction",
    "FormatSpec",
    "JsonFormat",
    "NotApplied",
    "PdfAction",
    "PlainFormat",
    "PressAction",
    "ScrapeAction",
    "ScreenshotAction",
    "ScreenshotFormat",
    "ScreenshotOptions",
    "ScrollAction",
    "Viewport",
    "WaitAction",
    "WriteAction",
    "check_json_schema",
    "format_object",
    "json_schema_validator",
    "not_applied",
    "reject_unencodable",
]

MAX_PROMPT_CHARS = 10_000
MAX_ACTIONS = 50
"""Firecrawl's limit on actions per scrape."""
MAX_ACTIONS_WAIT_MS = 60_000
"""Firecrawl's limit on waitFor plus every wait action (a selector wait counts 1 s)."""

SUPPORTED_FORMATS = (
    "markdown", "html", "rawHtml", "links", "images", "screenshot", "json", "summary",
)  # fmt: skip
MODEL_FORMATS = frozenset({"json", "summary"})
"""Formats produced by the configured model backend."""
UNSUPPORTED_FORMATS = frozenset(
    {
        "changeTracking", "branding", "attributes", "question", "highlights", "query", "audio",
        "video", "product", "menu", "rawBase64", "deterministicJson",
    }
)  # fmt: skip
"""Firecrawl formats that need a service this server does not run: a 400 naming them."""
# NUL cannot be passed to a process, and lone surrogates cannot be encoded to UTF-8.
_BAD_TEXT_CHARS = re.compile("[\\x00\\ud800-\\udfff]")


def reject_unencodable(text: str) -> str:
    """``text``, or a ValueError when it holds NUL or a lone UTF-16 surrogate."""
    if bad := _BAD_TEXT_CHARS.search(text):
        raise ValueError(
            f"contains the character {bad.group()!r} at position {bad.start()}, which cannot be "
            "passed on (NUL or a lone UTF-16 surrogate): remove it"
        )
    return text


Text = Annotated[str, AfterValidator(reject_unencodable)]
Selector = Annotated[str, Field(min_length=1), AfterValidator(reject_unencodable)]


def _is_set(value: Any) -> bool:
    return value is not None and value is not False and value != [] and value != {}


@dataclass(frozen=True)
class NotApplied:
    """Marks a Firecrawl option that is accepted but not applied here (``Annotated`` metadata).

    A request that sets it (``when`` says what counts as set) gets it listed in
    ``data.warning``, with ``why``, so nothing the client asked for disappears without a word.
    """

    why: str
    when: Callable[[Any], bool] = _is_set


def not_applied(model: BaseModel, path: str = "") -> Iterator[str]:
    """``name (why)`` for every option set in ``model`` (and the models it holds) that is marked
    :class:`NotApplied`."""
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        label = f"{path}{info.alias or name}"
        marker = next((m for m in info.metadata if isinstance(m, NotApplied)), None)
        if marker is not None and marker.when(value):
            yield f"{label} ({marker.why})"
        items = value if isinstance(value, list) else [value]
        for index, item in enumerate(items):
            if isinstance(item, BaseModel):
                where = f"{label}[{index}]." if isinstance(value, list) else f"{label}."
                yield from not_applied(item, where)


class _Strict(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


# --- formats -----------------------------------------------------------------------------------


class Viewport(_Strict):
    """A browser window size in CSS pixels."""

    width: int = Field(ge=100, le=7680)
    height: int = Field(ge=100, le=4320)


class ScreenshotOptions(_Strict):
    """How to take a screenshot: the screenshot format's and the screenshot action's fields."""

    full_page: bool = False
    quality: int | None = Field(
        default=None, ge=1, le=100, description="JPEG quality; PNG if unset."
    )
    viewport: Viewport | None = None


class PlainFormat(_Strict):
    """A format with no options."""

    type: Literal["markdown", "html", "rawHtml", "links", "images", "summary"]


class ScreenshotFormat(ScreenshotOptions):
    """A screenshot of the page after its actions (``screenshot@fullPage`` is Firecrawl v1's
    spelling of a full-page one)."""

    type: Literal["screenshot"]


class JsonFormat(_Strict):
    """Structured data extracted by the model: shaped by a JSON Schema, guided by a prompt."""

    type: Literal["json"]
    # ``schema`` would shadow a BaseModel method, hence the alias.
    json_schema: dict[str, Any] | None = Field(default=None, alias="schema")
    prompt: Text | None = Field(default=None, max_length=MAX_PROMPT_CHARS)
    # firecrawl-py's typed JsonFormat sends null here.
    check_prompt_injection: Annotated[
        bool | None, NotApplied("the page is not scanned for prompt injection")
    ] = None

    @model_validator(mode="after")
    def _schema_or_prompt(self) -> JsonFormat:
        if self.json_schema is None and not (self.prompt and self.prompt.strip()):
            raise ValueError(
                "a json format needs a 'schema' (a JSON Schema of the data), a 'prompt' (what to "
                "extract), or both"
            )
        if self.json_schema is not None:
            check_json_schema(self.json_schema)
        return self


def json_schema_validator(schema: dict[str, Any]) -> Validator:
    """A validator for ``schema`` (of the draft its ``$schema`` names, else 2020-12) that never
    fetches a ``$ref``: jsonschema's default registry still downloads remote ones, which would
    let a client make this server send requests."""
    return validators.validator_for(schema)(schema, registry=Registry())


def check_json_schema(schema: dict[str, Any]) -> None:
    """Raise ValueError unless ``schema`` is a valid JSON Schema whose ``$ref``s are local."""
    try:
        validators.validator_for(schema).check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.path) or "the top level"
        raise ValueError(
            f"'schema' is not a valid JSON Schema: {exc.message} (at {where})"
        ) from None
    for ref in _refs(schema):
        if not ref.startswith("#"):
            raise ValueError(
                f"'schema' refers to {ref!r}: only references within the schema (#/...) are "
                "followed; inline that definition under $defs"
            )


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


FormatSpec = Annotated[PlainFormat | ScreenshotFormat | JsonFormat, Field(discriminator="type")]
"""One entry of ``formats`` (a bare name such as ``"markdown"`` is read as ``{"type": name}``)."""


def format_object(fmt: Any) -> Any:
    """A ``formats`` entry as an object, or a ValueError naming a format this server lacks."""
    if fmt == "screenshot@fullPage":  # Firecrawl v1's spelling
        return {"type": "screenshot", "fullPage": True}
    if isinstance(fmt, str):
        fmt = {"type": fmt}
    name = fmt.get("type") if isinstance(fmt, dict) else None
    if not isinstance(name, str):
        raise ValueError(f"format {fmt!r} has no 'type'")
    supported = ", ".join(SUPPORTED_FORMATS)
    if name in UNSUPPORTED_FORMATS:
        raise ValueError(
            f"format {name!r} is not supported by this server; supported formats: {supported}"
        )
    if name not in SUPPORTED_FORMATS:
        raise ValueError(f"unknown format {name!r}; supported formats: {supported}")
    return fmt


# --- actions -----------------------------------------------------------------------------------


class WaitAction(_Strict):
    """Wait a number of milliseconds, or until an element matching a selector is visible."""

    type: Literal["wait"]
    milliseconds: int | None = Field(default=None, gt=0, le=MAX_ACTIONS_WAIT_MS)
    selector: Selector | None = None

    @model_validator(mode="after")
    def _one_of(self) -> WaitAction:
        if (self.milliseconds is None) == (self.selector is None):
            raise ValueError(  # Firecrawl's own wording
                "Either 'milliseconds' or 'selector' must be provided, but not both."
            )
        return self


class ClickAction(_Strict):
    """Click the first element matching a selector, or every one with ``all`` (none is not an
    error; hidden or covered ones are skipped)."""

    type: Literal["click"]
    selector: Selector
    all: bool = False


class WriteAction(_Strict):
    """Type text into the focused element (click the field first)."""

    type: Literal["write"]
    text: Text


class PressAction(_Strict):
    """Press a key (``Enter``, ``Tab``, ``Control+A``) on the focused element."""

    type: Literal["press"]
    key: Selector


class ScrollAction(_Strict):
    """Scroll the page, or the element a selector matches, by one screen."""

    type: Literal["scroll"]
    direction: Literal["up", "down"] = "down"
    selector: Selector | None = None


class ScreenshotAction(ScreenshotOptions):
    """Take a screenshot; its data URL goes into ``data.actions.screenshots``."""

    type: Literal["screenshot"]


class ScrapeAction(_Strict):
    """Capture the current page's URL and HTML into ``data.actions.scrapes`` (``{url, html}``)."""

    type: Literal["scrape"]


class ExecuteJavascriptAction(_Strict):
    """Run a script in the page as an async function body; ``return`` gives its value, which
    goes into ``data.actions.javascriptReturns`` (``{type, value}``)."""

    type: Literal["executeJavascript"]
    script: Annotated[str, Field(min_length=1), AfterValidator(reject_unencodable)]


class PdfAction(_Strict):
    """Print the current page to PDF (headless Chromium); its data URL goes into
    ``data.actions.pdfs``."""

    type: Literal["pdf"]
    landscape: bool = False
    # Chromium prints at 0.1x-2x and refuses anything else.
    scale: float = Field(default=1.0, ge=0.1, le=2.0)
    format: Literal[
        "A0", "A1", "A2", "A3", "A4", "A5", "A6", "Letter", "Legal", "Tabloid", "Ledger"
    ] = "Letter"


Action = Annotated[
    WaitAction
    | ClickAction
    | WriteAction
    | PressAction
    | ScrollAction
    | ScreenshotAction
    | ScrapeAction
    | ExecuteJavascriptAction
    | PdfAction,
    Field(discriminator="type"),
]
"""One entry of ``actions``, told apart by its ``type``."""
