"""The model providers, one :class:`ProviderSpec` each: the only place that knows them.

A model id is ``prefix:name``; the prefix picks a row of :data:`PROVIDER_SPECS`, and everything
else reads that row: :func:`agent.models.create_model` and the start-up check (key variable,
base URL, factory), the retry layer's error advice (hosted or not), the command line (key
variables, recordable providers) and the evals (real origin of the cassettes, the SDK's HTTP
library). Adding a provider is its wire module plus one row here (see CONTRIBUTING.md).

This module is cheap to import (the factories import their SDKs when first called), so the
command line can read the table without loading a model SDK.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from agent.errors import ConfigError

if TYPE_CHECKING:
    from agent.models.protocol import Model
    from agent.models.retry import RetryPolicy

__all__ = [
    "OLLAMA_BASE_URL",
    "PROVIDERS",
    "PROVIDER_SPECS",
    "ModelOptions",
    "ProviderSpec",
    "example_ids",
    "parse_model_id",
    "provider_spec",
    "recordable_providers",
]


@dataclass(frozen=True)
class ModelOptions:
    """What a factory builds a model from: the id's name and what the settings resolved."""

    provider: str
    name: str
    api_key: str | None = None
    base_url: str | None = None
    """None: the provider's default (for a hosted one, the SDK's own)."""
    timeout_s: float = 60.0
    retry: RetryPolicy | None = None
    http_client: Any = None
    """An ``AsyncClient`` of the SDK's HTTP library for it to send through (the evals and the
    wire tests hand in one whose transport replays or records a cassette); None: its own."""


Factory = Callable[[ModelOptions], "Model"]


@dataclass(frozen=True)
class ProviderSpec:
    """One provider: how its ids are written, what it needs, and how its model is built."""

    prefix: str
    """What its model ids start with: ``openai`` in ``openai:gpt-4.1-mini``."""
    build: Factory | None
    """Builds its model; None for a provider that is only built in code (see ``code_only``)."""
    key_env: str | None = None
    """The variable holding its API key; the setting (and TOML key) is the same in lower case."""
    key_required: bool = False
    """Refuse to start without the key (else it is sent only when set)."""
    hosted: bool = False
    """The provider's own API on the internet, not a server the user runs: its default URL is
    the SDK's, the cassettes are recorded against it, and errors do not suggest checking a
    local server."""
    origin: str | None = None
    """Where its API is served unless AGENT_BASE_URL says otherwise; for a hosted provider the
    real origin, which recordings from a local endpoint are rewritten to."""
    api_path: str = ""
    """The API root below the origin (``/v1``): what the SDK's base URL ends with."""
    base_url_hint: str | None = None
    """With no origin: what AGENT_BASE_URL must name, as said when it is missing."""
    example: str | None = None
    """A model id shown in error messages and help."""
    name_required: bool = True
    """Whether an id must name a model after the prefix (``demo`` alone is a whole id)."""
    code_only: str | None = None
    """Why this provider cannot be named in AGENT_MODEL (a test double)."""
    start_hint: str = ""
    """Added to "could not connect" errors: how to start the server."""
    http_library: str = "httpx"
    """The module the SDK's HTTP client comes from (the Anthropic SDK moved to ``httpx2``)."""
    sdk_base_url_env: str | None = None
    """The variable the SDK itself reads a base URL from; replays and tests clear it."""
    account_headers: frozenset[str] = field(default_factory=frozenset)
    """Headers naming the account (organisation, project); never written to a cassette."""

    @property
    def base_url(self) -> str | None:
        """The API root the SDK talks to by default (``https://api.openai.com/v1``)."""
        return self.origin + self.api_path if self.origin else None

    @property
    def real_origin(self) -> str | None:
        """For a hosted provider, its API's origin (``https://api.openai.com``), else None."""
        if not (self.hosted and self.origin):
            return None
        scheme, netloc = urlsplit(self.origin)[:2]
        return f"{scheme}://{netloc}"


def _openai_chat(options: ModelOptions) -> Model:
    from agent.models.openai import OpenAIModel

    return OpenAIModel.from_options(options)


def _anthropic_messages(options: ModelOptions) -> Model:
    from agent.models.anthropic import AnthropicModel

    return AnthropicModel.from_options(options)


def _demo(options: ModelOptions) -> Model:
    from agent.models.demo import DEMO_MODEL_ID, DemoModel

    return DemoModel(f"{DEMO_MODEL_ID}:{options.name}" if options.name else DEMO_MODEL_ID)


OLLAMA_BASE_URL = "http://127.0.0.1:11434/v1"
"""Where ``ollama:`` models are served unless AGENT_BASE_URL says otherwise."""

PROVIDER_SPECS: tuple[ProviderSpec, ...] = (
    ProviderSpec(
        "openai",
        _openai_chat,
        key_env="OPENAI_API_KEY",
        key_required=True,
        hosted=True,
        origin="https://api.openai.com",
        api_path="/v1",
        example="openai:gpt-4.1-mini",
        sdk_base_url_env="OPENAI_BASE_URL",
        account_headers=frozenset({"openai-organization", "openai-project"}),
    ),
    ProviderSpec(
        "anthropic",
        _anthropic_messages,
        key_env="ANTHROPIC_API_KEY",
        key_required=True,
        hosted=True,
        origin="https://api.anthropic.com",
        example="anthropic:claude-sonnet-4-6",
        http_library="httpx2",
        sdk_base_url_env="ANTHROPIC_BASE_URL",
        account_headers=frozenset({"anthropic-organization-id"}),
    ),
    ProviderSpec(
        "openai-compatible",
        _openai_chat,
        key_env="OPENAI_API_KEY",
        api_path="/v1",
        base_url_hint="its OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1",
    ),
    ProviderSpec(
        "ollama",
        _openai_chat,
        key_env="OPENAI_API_KEY",
        origin=OLLAMA_BASE_URL.removesuffix("/v1"),
        api_path="/v1",
        example="ollama:qwen3",
        start_hint=" (start it with `ollama serve`)",
    ),
    ProviderSpec("demo", _demo, name_required=False),
    ProviderSpec(
        "scripted",
        None,
        name_required=False,
        code_only='"scripted" is a test double, not a real model: build it in code as '
        "agent.models.ScriptedModel(script).",
    ),
)
"""Every provider, in the order error messages list them."""

PROVIDERS = tuple(spec.prefix for spec in PROVIDER_SPECS)
"""Provider prefixes a model id may start with (``demo`` needs no name after it)."""

_BY_PREFIX = {spec.prefix: spec for spec in PROVIDER_SPECS}


def provider_spec(prefix: str) -> ProviderSpec:
    """The row for ``prefix``; KeyError for an unknown one (ids go through parse_model_id)."""
    return _BY_PREFIX[prefix]


def recordable_providers() -> tuple[ProviderSpec, ...]:
    """The hosted providers whose traffic the evals and wire tests record and replay."""
    return tuple(s for s in PROVIDER_SPECS if s.real_origin and s.build is not None)


def example_ids() -> str:
    """The example model ids, as a sentence: ``"openai:gpt-4.1-mini", ... or "ollama:qwen3"``."""
    shown = [f'"{spec.example}"' for spec in PROVIDER_SPECS if spec.example]
    return f"{', '.join(shown[:-1])} or {shown[-1]}"


def parse_model_id(model_id: str) -> tuple[str, str]:
    """Split ``"provider:name"`` into its parts, or raise ConfigError explaining the format."""
    provider, sep, name = model_id.strip().partition(":")
    provider = provider.strip().lower()
    spec = _BY_PREFIX.get(provider)
    if spec is not None and not spec.name_required:
        return provider, name.strip()
    named = ", ".join(s.prefix for s in PROVIDER_SPECS if s.code_only is None)
    if not sep:
        raise ConfigError(
            f"Model id {model_id!r} has no provider: write it as provider:name, e.g. "
            f"{example_ids()} (providers: {named})."
        )
    if spec is None:
        raise ConfigError(
            f"Unknown model provider {provider!r} in {model_id!r}: use one of {named}, e.g. "
            f"{example_ids()}. For another server that speaks the OpenAI Chat Completions API "
            "use openai-compatible:NAME and set AGENT_BASE_URL."
        )
    if not name.strip():
        raise ConfigError(
            f"Model id {model_id!r} names no model after {provider!r}: e.g. {example_ids()}."
        )
    return provider, name.strip()
