"""Request bodies of the Firecrawl v2 endpoints, camelCase on the wire: what a scrape and an
interact call are, as the HTTP API and the MCP server both take them (the MCP tools validate their
arguments with these same models, so limits and messages are the same on both faces).

:class:`ScrapeRequest` is the one list of the scrape options this server knows: every option of
Firecrawl's v2 API (and the extra keys its SDKs send), each applied, or accepted and marked
:class:`~agent.service.scrape_options.NotApplied` (then named in ``data.warning`` when set), or
refused with a reason. A key Firecrawl does not know is a 400 naming it, so an option never
disappears without a word. Its formats and actions are in :mod:`agent.service.scrape_options`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
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

from agent.service.scrape_options import (
    MAX_ACTIONS,
    MAX_ACTIONS_WAIT_MS,
    MAX_PROMPT_CHARS,
    MODEL_FORMATS,
    SUPPORTED_FORMATS,
    Action,
    FormatSpec,
    JsonFormat,
    NotApplied,
    PlainFormat,
    ScreenshotFormat,
    ScreenshotOptions,
    WaitAction,
    format_object,
    not_applied,
    reject_unencodable,
)

__all__ = [
    "MAX_CODE_CHARS",
    "MAX_PROFILE_NAME_CHARS",
    "MAX_PROMPT_CHARS",
    "SUPPORTED_FORMATS",
    "InteractRequest",
    "ProfileOptions",
    "ScrapeRequest",
    "ScreenshotOptions",
    "check_profile_name",
]

MAX_CODE_CHARS = 100_000
MAX_PROFILE_NAME_CHARS = 128
"""Firecrawl's limit; any character goes (``user@example.com``), as there."""
# Control characters and whitespace never belong in a URL, bidirectional controls only disguise
# one (a right-to-left override in a host name), and lone surrogates cannot be encoded.
_BAD_URL_CHARS = re.compile(
    "[\\x00-\\x20\\x7f\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069\\ud800-\\udfff]"
)


def _reject_unencodable(field: str, text: str | None) -> str | None:
    if text is None:
        return None
    try:
        return reject_unencodable(text)
    except ValueError as exc:
        raise ValueError(f"{field} {exc}") from None


def check_profile_name(name: str) -> str:
    """``name`` when Firecrawl would take it as a profile name (1-128 characters of any kind),
    else a ValueError saying why. NUL and lone surrogates are refused as in every text field.
    The file it is stored in is the profile store's business (``ProfileStore.path``)."""
    try:
        reject_unencodable(name)
    except ValueError as exc:
        raise ValueError(f"profile name {exc}") from None
    # Counted as Firecrawl's JavaScript counts: UTF-16 code units, so an emoji is two.
    length = len(name.encode("utf-16-le")) // 2
    if not 1 <= length <= MAX_PROFILE_NAME_CHARS:
        raise ValueError(
            f"profile name must be 1-{MAX_PROFILE_NAME_CHARS} characters, not {length}"
        )
    return name


def _default_formats() -> list[FormatSpec]:
    return [PlainFormat(type="markdown")]


class _CamelModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")


class _StrictModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class ProfileOptions(_StrictModel):
    """A named profile whose cookies and storage the session starts from."""

    name: str
    save_changes: bool = True

    @field_validator("name")
    @classmethod
    def _valid_name(cls, name: str) -> str:
        return check_profile_name(name)


def _true(value: Any) -> bool:
    return value is True


class ScrapeRequest(_StrictModel):
    """Body of ``POST /v2/scrape``: every option Firecrawl's v2 API and SDKs send."""

    # --- applied
    url: str = Field(description="Applied: the page to load (http(s) only).")
    formats: list[FormatSpec] = Field(
        default_factory=_default_formats,
        description="Applied: what to return, see the formats below.",
        json_schema_extra={"doc_default": '`["markdown"]`'},
    )
    actions: list[Action] = Field(
        default_factory=list,
        description="Applied: run in order on the loaded page before its content is taken, see "
        "the actions below.",
    )
    only_main_content: bool = Field(
        default=True,
        description="Applied: drop navigation, headers, footers, sidebars, banners and ads.",
    )
    include_tags: list[str] = Field(
        default_factory=list,
        description="Applied: CSS selectors; when given, only what they match is kept.",
    )
    exclude_tags: list[str] = Field(
        default_factory=list, description="Applied: CSS selectors of elements to drop."
    )
    wait_for: int = Field(
        default=0, ge=0, le=60_000, description="Applied: milliseconds to wait after load."
    )
    timeout: int | None = Field(
        default=None,
        ge=1_000,
        le=300_000,
        description="Applied: milliseconds for the whole scrape, actions and json/summary "
        "included (408 past it).",
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="Applied: sent with every request of the page."
    )
    mobile: bool = Field(default=False, description="Applied: a phone's screen and user agent.")
    skip_tls_verification: bool = Field(
        default=True, description="Applied: load pages whose certificate does not verify."
    )
    remove_base64_images: bool = Field(
        default=True, description="Applied: drop inline base64 images from the markdown."
    )
    block_ads: bool = Field(default=True, description="Applied: block ads and trackers.")
    profile: ProfileOptions | None = Field(
        default=None,
        description="Applied: this server's named profiles ({name, saveChanges}), whose cookies "
        "and storage the session starts from and, when writable, saves back.",
    )
    # This server's own: how long the session the scrape opens may live.
    ttl: int | None = Field(
        default=None, ge=30, le=3600, description="This server's own: the session's lifetime, s."
    )
    activity_ttl: int | None = Field(
        default=None, ge=10, le=3600, description="This server's own: the session's idle limit, s."
    )

    # --- nothing to apply. This server keeps no cache: every scrape loads the page live, which
    # is what maxAge allows whatever its value; storeInCache has nothing to store into.
    max_age: int | None = Field(
        default=None,
        ge=0,
        description="Applied: no cache here, so every scrape is fresh, which any maxAge allows.",
    )
    store_in_cache: bool | None = Field(
        default=None, description="Accepted, nothing to apply: there is no cache."
    )
    # Served only from a cache, which this server does not have: answered as Firecrawl answers
    # a cache miss (404), never by loading the page the client said not to load.
    min_age: int | None = Field(
        default=None,
        ge=0,
        description="Answered as Firecrawl answers a cache miss: 404 SCRAPE_NO_CACHED_DATA (only "
        "a cached copy was asked for, and there is none; the page is not loaded).",
    )
    lockdown: bool | None = Field(
        default=None,
        description="Answered as Firecrawl answers a cache miss: 404 SCRAPE_LOCKDOWN_CACHE_MISS "
        "(only a cached copy was asked for, and there is none; the page is not loaded).",
    )
    # No scrape data outlives its session here (and the SDKs' own labels).
    zero_data_retention: bool | None = Field(
        default=None,
        description="Accepted, nothing to apply: no scrape data outlives its session.",
    )
    origin: str | None = Field(
        default=None, description="Accepted, nothing to apply: the SDK's own label."
    )
    integration: str | None = Field(
        default=None, description="Accepted, nothing to apply: the SDK's own label."
    )

    # --- accepted, not applied: named in data.warning when set
    location: Annotated[
        dict[str, Any] | None,
        NotApplied("pages load from this server's own network and locale, not a chosen country"),
    ] = None
    proxy: Annotated[
        Literal["basic", "stealth", "enhanced", "auto"] | None,
        NotApplied("no proxy is used: pages load directly from this server"),
    ] = None
    parsers: Annotated[
        list[str | dict[str, Any]] | None,
        NotApplied("PDFs and images are not parsed into text"),
    ] = None
    only_clean_content: Annotated[
        bool | None, NotApplied("markdown is not cleaned further; onlyMainContent still applies")
    ] = None
    fast_mode: Annotated[
        bool | None, NotApplied("every scrape loads the page in a full browser")
    ] = None
    use_mock: Annotated[str | None, NotApplied("there are no recorded mocks to replay")] = None
    check_prompt_injection: Annotated[
        bool | None, NotApplied("the page is not scanned for prompt injection")
    ] = None
    safe_mode: Annotated[bool | None, NotApplied("there is no safe mode", when=_true)] = None
    threat_protection: Annotated[
        dict[str, Any] | None, NotApplied("there is no threat protection service")
    ] = None
    audit_metadata: Annotated[
        dict[str, Any] | None, NotApplied("there is no audit log to attach it to")
    ] = None
    domain_tools: Annotated[
        bool | None, NotApplied("no domain tools are discovered", when=_true)
    ] = None
    tool_detail: Annotated[
        Literal["compact", "summary", "full"] | None,
        NotApplied("no domain tools are discovered"),
    ] = None

    # --- refused: ignoring it would hand back what the client asked to have removed
    redact_pii: bool | dict[str, Any] | None = Field(
        default=None,
        alias="redactPII",
        description="Refused (400): ignoring it would return the personal data unredacted.",
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

    @field_validator("formats", mode="before")
    @classmethod
    def _format_objects(cls, formats: Any) -> Any:
        if not isinstance(formats, list):
            return formats  # pydantic says it must be a list
        return [format_object(fmt) for fmt in formats]

    @field_validator("redact_pii")
    @classmethod
    def _no_redaction(cls, value: bool | dict[str, Any] | None) -> None:
        if value not in (None, False):
            raise ValueError(
                "redactPII is not supported by this server: it cannot remove personal data from "
                "the page, and ignoring it would return the data unredacted. Remove redactPII, "
                "or redact the returned content yourself"
            )
        return None

    @model_validator(mode="after")
    def _firecrawl_limits(self) -> ScrapeRequest:
        kinds = [fmt.type for fmt in self.formats]
        for kind in ("screenshot", "json"):
            if kinds.count(kind) > 1:
                raise ValueError(f"You may only specify one {kind} format")
        if self.timeout is not None and self.wait_for > self.timeout / 2:
            raise ValueError("waitFor must not exceed half of timeout")
        if len(self.actions) > MAX_ACTIONS:
            raise ValueError(f"Number of actions cannot exceed {MAX_ACTIONS}")
        waited = self.wait_for + sum(
            (action.milliseconds or 1000)
            for action in self.actions
            if isinstance(action, WaitAction)
        )
        if waited > MAX_ACTIONS_WAIT_MS:
            raise ValueError(
                f"Total wait time (waitFor + wait actions) cannot exceed "
                f"{MAX_ACTIONS_WAIT_MS // 1000} seconds"
            )
        return self

    def format_names(self) -> set[str]:
        return {fmt.type for fmt in self.formats}

    def screenshot_options(self) -> ScreenshotOptions | None:
        """The screenshot format's options, or None when no screenshot was asked for."""
        return next((fmt for fmt in self.formats if isinstance(fmt, ScreenshotFormat)), None)

    def json_format(self) -> JsonFormat | None:
        """The json format, or None when none was asked for."""
        return next((fmt for fmt in self.formats if isinstance(fmt, JsonFormat)), None)

    def needs_model(self) -> bool:
        """Whether a format is produced by the model backend (json, summary)."""
        return bool(self.format_names() & MODEL_FORMATS)

    def not_applied_warning(self) -> str | None:
        """The ``data.warning`` naming every option set that this server does not apply."""
        ignored = list(not_applied(self))
        if not ignored:
            return None
        return (
            "This server does not apply these options, so they were ignored: "
            + "; ".join(ignored)
            + "."
        )


Language = Literal["node", "python", "bash"]


class InteractRequest(_CamelModel):
    """Body of ``POST /v2/scrape/{scrapeId}/interact``: a prompt, or code in a language."""

    prompt: str | None = Field(default=None, max_length=MAX_PROMPT_CHARS)
    code: str | None = Field(default=None, max_length=MAX_CODE_CHARS)
    language: str | None = None
    timeout: int | None = Field(default=None, ge=1, le=300, description="Seconds.")
    origin: str | None = None
    cache: bool | None = Field(
        default=None,
        description="For a prompt: replay it from the prompt cache (true) or not (false); "
        "unset: AGENT_PROMPT_CACHE decides. Ours, not Firecrawl's.",
    )

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
