"""The model protocol every backend implements, and picking a backend from a model id."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from pydantic import SecretStr

from agent.config import Settings, load_settings
from agent.errors import ConfigError
from agent.messages import Message, ModelResponse, ModelSettings, ToolSpec
from agent.models.demo import DemoModel
from agent.models.retry import RetryPolicy

__all__ = [
    "OLLAMA_BASE_URL",
    "PROVIDERS",
    "Model",
    "check_model",
    "create_model",
    "parse_model_id",
]

PROVIDERS = ("openai", "anthropic", "openai-compatible", "ollama", "demo", "scripted")
"""Provider prefixes a model id may start with (``demo`` needs no name after it)."""

OLLAMA_BASE_URL = "http://127.0.0.1:11434/v1"
"""Where ``ollama:`` models are served unless AGENT_BASE_URL says otherwise."""

_EXAMPLES = '"openai:gpt-4.1-mini", "anthropic:claude-sonnet-4-6" or "ollama:qwen3"'


@runtime_checkable
class Model(Protocol):
    """A chat model that can call tools."""

    model_id: str
    """The ``provider:name`` id this model was created from."""

    async def request(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSpec],
        settings: ModelSettings,
    ) -> ModelResponse:
        """Send the conversation and tool specs; return the model's next answer."""
        ...


def parse_model_id(model_id: str) -> tuple[str, str]:
    """Split ``"provider:name"`` into its parts, or raise ConfigError explaining the format."""
    provider, sep, name = model_id.strip().partition(":")
    provider = provider.strip().lower()
    if provider in ("scripted", "demo"):
        return provider, name.strip()
    if not sep:
        raise ConfigError(
            f"Model id {model_id!r} has no provider: write it as provider:name, e.g. {_EXAMPLES} "
            f"(providers: {', '.join(PROVIDERS[:-1])})."
        )
    if provider not in PROVIDERS:
        raise ConfigError(
            f"Unknown model provider {provider!r} in {model_id!r}: use one of "
            f"{', '.join(PROVIDERS[:-1])}, e.g. {_EXAMPLES}. For another server that speaks the "
            "OpenAI Chat Completions API use openai-compatible:NAME and set AGENT_BASE_URL."
        )
    if not name.strip():
        raise ConfigError(
            f"Model id {model_id!r} names no model after {provider!r}: e.g. {_EXAMPLES}."
        )
    return provider, name.strip()


@dataclass(frozen=True)
class _Backend:
    """What a model id and the settings say about the backend to build."""

    provider: str
    name: str
    api_key: str | None = None
    base_url: str | None = None


def _backend(model_id: str, settings: Settings) -> _Backend:
    """The backend ``model_id`` names, or ConfigError saying what is missing (a key, a URL)."""
    provider, name = parse_model_id(model_id)
    if provider == "scripted":
        raise ConfigError(
            '"scripted" is a test double, not a real model: build it in code as '
            "agent.models.ScriptedModel(script). To run the agent set AGENT_MODEL to a real "
            f"model, e.g. {_EXAMPLES}, or to demo for the offline demo model."
        )
    if provider == "demo":
        return _Backend(provider, name)
    if provider == "anthropic":
        anthropic_key = _require_key(settings.anthropic_api_key, "ANTHROPIC_API_KEY", model_id)
        return _Backend(provider, name, anthropic_key, settings.base_url)
    if provider == "openai":
        openai_key = _require_key(settings.openai_api_key, "OPENAI_API_KEY", model_id)
        return _Backend(provider, name, openai_key, settings.base_url)
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    if provider == "ollama":
        return _Backend(provider, name, key, settings.base_url or OLLAMA_BASE_URL)
    if settings.base_url:
        return _Backend(provider, name, key, settings.base_url)
    raise ConfigError(
        f"Model {model_id!r} needs the server's URL: set AGENT_BASE_URL to its OpenAI-"
        "compatible endpoint, e.g. http://127.0.0.1:8000/v1 (set OPENAI_API_KEY too if the "
        "server wants a key)."
    )


def check_model(settings: Settings) -> None:
    """Raise ConfigError when the configured model could not be created (an unknown provider,
    a missing key or base URL), as a server checks at start; nothing when none is configured."""
    if settings.model:
        _backend(settings.model, settings)


def create_model(model_id: str, *, settings: Settings | None = None) -> Model:
    """Create the backend for ``model_id`` (``provider:name``), configured from ``settings``.

    Args:
        model_id: e.g. ``openai:gpt-4.1-mini``, ``anthropic:claude-sonnet-4-6``, ``ollama:qwen3``,
            ``openai-compatible:NAME`` (needs ``AGENT_BASE_URL``), or ``demo`` (the offline
            demo model, ``agent.models.demo``).
        settings: keys, base URL, timeout and retries; read from the environment when None.

    Raises:
        ConfigError: unknown provider, missing key or base URL, or ``scripted`` (a test double
            that is only built in code, as ``ScriptedModel(script)``).
    """
    settings = settings if settings is not None else load_settings()
    backend = _backend(model_id, settings)
    if backend.provider == "demo":
        return DemoModel(f"demo:{backend.name}" if backend.name else "demo")
    retry = RetryPolicy(retries=settings.model_retries)
    timeout_s = settings.model_timeout
    if backend.provider == "anthropic":
        from agent.models.anthropic import AnthropicModel

        return AnthropicModel(
            backend.name,
            api_key=backend.api_key or "",
            base_url=backend.base_url,
            timeout_s=timeout_s,
            retry=retry,
        )

    from agent.models.openai import OpenAIModel

    return OpenAIModel(
        backend.name,
        api_key=backend.api_key,
        base_url=backend.base_url,
        provider=backend.provider,
        timeout_s=timeout_s,
        retry=retry,
    )


def _require_key(key: SecretStr | None, env_var: str, model_id: str) -> str:
    value = key.get_secret_value().strip() if key is not None else ""
    if not value:
        raise ConfigError(
            f"Model {model_id!r} needs an API key: set {env_var} in the environment "
            f"(or {env_var.lower()} in the TOML file named by AGENT_CONFIG)."
        )
    return value
