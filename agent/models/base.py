"""The model protocol every backend implements, and picking a backend from a model id."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from pydantic import SecretStr

from agent.config import Settings, load_settings
from agent.errors import ConfigError
from agent.messages import Message, ModelResponse, ModelSettings, ToolSpec
from agent.models.retry import RetryPolicy

__all__ = ["OLLAMA_BASE_URL", "PROVIDERS", "Model", "create_model", "parse_model_id"]

PROVIDERS = ("openai", "anthropic", "openai-compatible", "ollama", "scripted")
"""Provider prefixes a model id may start with."""

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
    if provider == "scripted":
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


def create_model(model_id: str, *, settings: Settings | None = None) -> Model:
    """Create the backend for ``model_id`` (``provider:name``), configured from ``settings``.

    Args:
        model_id: e.g. ``openai:gpt-4.1-mini``, ``anthropic:claude-sonnet-4-6``, ``ollama:qwen3``,
            ``openai-compatible:NAME`` (needs ``AGENT_BASE_URL``).
        settings: keys, base URL, timeout and retries; read from the environment when None.

    Raises:
        ConfigError: unknown provider, missing key or base URL, or ``scripted`` (a test double
            that is only built in code, as ``ScriptedModel(script)``).
    """
    provider, name = parse_model_id(model_id)
    if provider == "scripted":
        raise ConfigError(
            '"scripted" is a test double, not a real model: build it in code as '
            "agent.models.ScriptedModel(script). To run the agent set AGENT_MODEL to a real "
            f"model, e.g. {_EXAMPLES}."
        )
    settings = settings if settings is not None else load_settings()
    retry = RetryPolicy(retries=settings.model_retries)
    timeout_s = settings.model_timeout

    if provider == "anthropic":
        from agent.models.anthropic import AnthropicModel

        return AnthropicModel(
            name,
            api_key=_require_key(settings.anthropic_api_key, "ANTHROPIC_API_KEY", model_id),
            base_url=settings.base_url,
            timeout_s=timeout_s,
            retry=retry,
        )

    from agent.models.openai import OpenAIModel

    if provider == "openai":
        return OpenAIModel(
            name,
            api_key=_require_key(settings.openai_api_key, "OPENAI_API_KEY", model_id),
            base_url=settings.base_url,
            timeout_s=timeout_s,
            retry=retry,
        )
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    if provider == "ollama":
        base_url = settings.base_url or OLLAMA_BASE_URL
    elif settings.base_url:
        base_url = settings.base_url
    else:
        raise ConfigError(
            f"Model {model_id!r} needs the server's URL: set AGENT_BASE_URL to its OpenAI-"
            "compatible endpoint, e.g. http://127.0.0.1:8000/v1 (set OPENAI_API_KEY too if the "
            "server wants a key)."
        )
    return OpenAIModel(
        name,
        api_key=key,
        base_url=base_url,
        provider=provider,
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
