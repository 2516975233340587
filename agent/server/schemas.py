"""Request and response bodies of the Firecrawl v2 endpoints, camelCase on the wire.

Request models accept the fields Firecrawl's SDKs send; fields this server does not know are kept
in ``model_extra`` and logged, never rejected, so a newer SDK keeps working.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

__all__ = [
    "MAX_CODE_CHARS",
    "MAX_PROMPT_CHARS",
    "PROFILE_NAME_PATTERN",
    "SUPPORTED_FORMATS",
    "InteractRequest",
    "InteractResponse",
    "ProfileOptions",
    "ScrapeRequest",
    "ScreenshotOptions",
    "StopResponse",
]

MAX_PROMPT_CHARS = 10_000
MAX_CODE_CHARS = 100_000
SUPPORTED_FORMATS = ("markdown", "html", "rawHtml", "links", "images", "screenshot")
# Firecrawl formats that need an LLM extraction or a service this server does not run.
_UNSUPPORTED_FORMATS = frozenset(
    {
        "json", "summary", "changeTracking", "branding", "attributes", "question",
        "highlights", "query", "audio", "video", "product", "menu",
    }
)  # fmt: skip
PROFILE_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# Control characters and whitespace never belong in a URL, bidirectional controls only disguise
# one (a right-to-left override in a host name), and lone surrogates cannot be encoded.
_BAD_URL_CHARS = re.compile(
    "[\\x00-\\x20\\x7f\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069\\ud800-\\udfff]"
)
# NUL cannot be passed to a process, and lone surrogates cannot be encoded to UTF-8.
_BAD_TEXT_CHARS = re.compile("[\\x00\\ud800-\\udfff]")


def _reject_unencodable(field: str, text: str | None) -> str | None:
    if text is not None and (bad := _BAD_TEXT_CHARS.search(text)):
        raise ValueError(
            f"{field} contains the character {bad.group()!r} at position {bad.start()}, which "
            "cannot be passed on (NUL or a lone UTF-16 surrogate): remove it"
        )
    return text


def _default_formats() -> list[str | dict[str, Any]]:
    return ["markdown"]


class _CamelModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")


class ProfileOptions(_CamelModel):
    """A named profile whose cookies and storage the session starts from."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    name: str
    save_changes: bool = True

    @field_validator("name")
    @classmethod
    def _valid_name(cls, name: str) -> str:
        if not PROFILE_NAME_PATTERN.fullmatch(name) or ".." in name:
            raise ValueError(
                f"profile name {name!r} is not allowed: use 1-64 letters, digits, '.', '_' or "
                "'-', starting with a letter or digit (no slashes or '..')"
            )
        return name


@dataclass(frozen=True)
class ScreenshotOptions:
    """What the screenshot format asked for."""

    full_page: bool = False
    quality: int | None = None
    viewport: tuple[int, int] | None = None


class ScrapeRequest(_CamelModel):
    """Body of ``POST /v2/scrape``."""

    url: str
    formats: list[str | dict[str, Any]] = Field(default_factory=_default_formats)
    only_main_content: bool = True
    include_tags: list[str] = Field(default_factory=list)
    exclude_tags: list[str] = Field(default_factory=list)
    wait_for: int = Field(default=0, ge=0, le=60_000, description="Milliseconds after load.")
    timeout: int | None = Field(
        default=None, ge=1_000, le=300_000, description="Milliseconds for the whole scrape."
    )
    headers: dict[str, str] = Field(default_factory=dict)
    mobile: bool = False
    skip_tls_verification: bool = True
    remove_base64_images: bool = True
    block_ads: bool = True
    # Accepted for compatibility; a self-hosted browser has no cache or fast path to choose.
    fast_mode: bool | None = None
    store_in_cache: bool | None = None
    max_age: int | None = None
    origin: str | None = None
    integration: str | None = None
    profile: ProfileOptions | None = None
    ttl: int | None = Field(default=None, ge=30, le=3600, description="Session lifetime, s.")
    activity_ttl: int | None = Field(
        default=None, ge=10, le=3600, description="Session idle limit, s."
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        url = url.strip()
        try:
            parts = urlsplit(url)
            has_host = bool(parts.hostname) and parts.port != 0  # .port checks the range
        except ValueError:
            parts, has_host = None, False
        if parts is None or parts.scheme not in ("http", "https") or not has_host:
            raise ValueError(
                f"url {url[:200]!r} is not an http(s) URL with a host: send e.g. "
                "https://example.com/page"
            )
        if bad := _BAD_URL_CHARS.search(url):
            raise ValueError(
                f"url contains the character {bad.group()!r} at position {bad.start()}: "
                "percent-encode spaces and control characters (e.g. %20)"
            )
        return url

    @field_validator("formats")
    @classmethod
    def _known_formats(cls, formats: list[str | dict[str, Any]]) -> list[str | dict[str, Any]]:
        for fmt in formats:
            name = fmt if isinstance(fmt, str) else fmt.get("type")
            if not isinstance(name, str):
                raise ValueError(f"format {fmt!r} has no 'type'")
            name = name.split("@", 1)[0]
            if name == "screenshot" and isinstance(fmt, dict):
                _screenshot_from_dict(fmt)  # reject bad options now, as a 400
            if name in _UNSUPPORTED_FORMATS:
                raise ValueError(
                    f"format {name!r} is not supported by this server; supported formats: "
                    + ", ".join(SUPPORTED_FORMATS)
                )
            if name not in SUPPORTED_FORMATS:
                raise ValueError(
                    f"unknown format {name!r}; supported formats: " + ", ".join(SUPPORTED_FORMATS)
                )
        return formats

    def format_names(self) -> set[str]:
        names = set()
        for fmt in self.formats:
            name = fmt if isinstance(fmt, str) else str(fmt["type"])
            names.add(name.split("@", 1)[0])
        return names

    def screenshot_options(self) -> ScreenshotOptions | None:
        """The screenshot format's options, or None when no screenshot was asked for."""
        for fmt in self.formats:
            if isinstance(fmt, str):
                if fmt == "screenshot":
                    return ScreenshotOptions()
                if fmt == "screenshot@fullPage":
                    return ScreenshotOptions(full_page=True)
            elif fmt.get("type") == "screenshot":
                return _screenshot_from_dict(fmt)
        return None


def _screenshot_from_dict(fmt: dict[str, Any]) -> ScreenshotOptions:
    quality = fmt.get("quality")
    if quality is not None and (not isinstance(quality, int) or not 1 <= quality <= 100):
        raise ValueError("screenshot quality must be an integer from 1 to 100")
    viewport = fmt.get("viewport")
    size: tuple[int, int] | None = None
    if viewport is not None:
        try:
            size = (int(viewport["width"]), int(viewport["height"]))
        except (KeyError, TypeError, ValueError):
            raise ValueError("screenshot viewport must be {width: int, height: int}") from None
        if not (100 <= size[0] <= 7680 and 100 <= size[1] <= 7680):
            raise ValueError("screenshot viewport width and height must be 100-7680 pixels")
    return ScreenshotOptions(full_page=bool(fmt.get("fullPage")), quality=quality, viewport=size)


Language = Literal["node", "python", "bash"]


class InteractRequest(_CamelModel):
    """Body of ``POST /v2/scrape/{scrapeId}/interact``: a prompt, or code in a language."""

    prompt: str | None = Field(default=None, max_length=MAX_PROMPT_CHARS)
    code: str | None = Field(default=None, max_length=MAX_CODE_CHARS)
    language: str | None = None
    timeout: int | None = Field(default=None, ge=1, le=300, description="Seconds.")
    origin: str | None = None

    @field_validator("prompt", "code")
    @classmethod
    def _encodable(cls, text: str | None, info: ValidationInfo) -> str | None:
        return _reject_unencodable(str(info.field_name), text)

    @model_validator(mode="after")
    def _prompt_or_code(self) -> InteractRequest:
        has_prompt = bool(self.prompt and self.prompt.strip())
        has_code = bool(self.code and self.code.strip())
        if has_prompt and has_code:
            raise ValueError("send either 'prompt' or 'code', not both")
        if not has_prompt and not has_code:
            raise ValueError("send a non-empty 'prompt' or 'code'")
        # The SDKs send a language with every call, prompts included: only code needs one.
        if has_code and self.language not in (None, "node", "python", "bash"):
            raise ValueError(f"unknown language {self.language!r}: use 'node', 'python' or 'bash'")
        return self

    @property
    def code_language(self) -> Language:
        if self.language in ("python", "bash"):
            return self.language  # type: ignore[return-value]
        return "node"


class InteractResponse(_CamelModel):
    """Answer of an interact call, the fields Firecrawl's SDKs read."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    success: bool
    cdp_url: str
    live_view_url: str
    interactive_live_view_url: str
    output: str | None = None
    stdout: str | None = None
    result: str | None = None
    stderr: str | None = None
    exit_code: int
    killed: bool
    truncated: bool = False
    error: str | None = None

    def wire(self) -> dict[str, Any]:
        body = self.model_dump(by_alias=True)
        if body["error"] is None:
            del body["error"]
        return body


class StopResponse(_CamelModel):
    """Answer of ``DELETE /v2/scrape/{scrapeId}/interact``."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    success: bool = True
    status: str = "stopped"
    session_duration_ms: int
