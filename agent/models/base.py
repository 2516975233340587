"""Picking a backend from a model id and the settings, as the provider table describes it."""

from __future__ import annotations

from pydantic import SecretStr

from agent.config import Settings, load_settings
from agent.errors import ConfigError
from agent.models.protocol import Model
from agent.models.providers import (
    OLLAMA_BASE_URL,
    PROVIDER_SPECS,
    PROVIDERS,
    ModelOptions,
    ProviderSpec,
    example_ids,
    parse_model_id,
    provider_spec,
)
from agent.models.retry import RetryPolicy

__all__ = [
    "OLLAMA_BASE_URL",
    "PROVIDERS",
    "Model",
    "check_model",
    "create_model",
    "model_keys",
    "parse_model_id",
]


def _resolve(model_id: str, settings: Settings) -> tuple[ProviderSpec, ModelOptions]:
    """The provider ``model_id`` names and what to build it with, or ConfigError saying what is
    missing (a key, a URL) or why it cannot be named (``scripted``)."""
    provider, name = parse_model_id(model_id)
    spec = provider_spec(provider)
    if spec.code_only is not None:
        raise ConfigError(
            f"{spec.code_only} To run the agent set AGENT_MODEL to a real model, e.g. "
            f"{example_ids()}, or to demo for the offline demo model."
        )
    key = _key(spec, settings, model_id)
    # A hosted provider's default is left to its SDK, which honours its own *_BASE_URL variable.
    base_url = settings.base_url or (None if spec.hosted else spec.base_url)
    if base_url is None and spec.base_url_hint is not None:
        key_too = f" (set {spec.key_env} too if the server wants a key)" if spec.key_env else ""
        raise ConfigError(
            f"Model {model_id!r} needs the server's URL: set AGENT_BASE_URL to "
            f"{spec.base_url_hint}{key_too}."
        )
    options = ModelOptions(
        provider,
        name,
        api_key=key,
        base_url=base_url,
        timeout_s=settings.model_timeout,
        retry=RetryPolicy(retries=settings.model_retries),
    )
    return spec, options


def check_model(settings: Settings) -> None:
    """Raise ConfigError when the configured model could not be created (an unknown provider,
    a missing key or base URL), as a server checks at start; nothing when none is configured."""
    if settings.model:
        _resolve(settings.model, settings)


def create_model(model_id: str, *, settings: Settings | None = None) -> Model:
    """Create the backend for ``model_id`` (``provider:name``), configured from ``settings``.

    Args:
        model_id: e.g. ``openai:gpt-4.1-mini``, ``anthropic:claude-sonnet-4-6``, ``ollama:qwen3``,
            ``openai-compatible:NAME`` (needs ``AGENT_BASE_URL``), or ``demo`` (the offline
            demo model, ``agent.models.demo``); the prefixes are ``agent.models.providers``.
        settings: keys, base URL, timeout and retries; read from the environment when None.

    Raises:
        ConfigError: unknown provider, missing key or base URL, or ``scripted`` (a test double
            that is only built in code, as ``ScriptedModel(script)``).
    """
    settings = settings if settings is not None else load_settings()
    spec, options = _resolve(model_id, settings)
    assert spec.build is not None  # _resolve refuses code-only providers
    return spec.build(options)


def model_keys(settings: Settings) -> list[str]:
    """Every provider key set in ``settings``, for keeping them out of logs."""
    secrets = [_setting(spec.key_env, settings) for spec in PROVIDER_SPECS if spec.key_env]
    return sorted({secret.get_secret_value() for secret in secrets if secret is not None})


def _setting(key_env: str, settings: Settings) -> SecretStr | None:
    # Settings holds each key variable as a field of the same name in lower case: the settings
    # sit below the models and cannot read this table, so a test keeps the two in step.
    value: SecretStr | None = getattr(settings, key_env.lower())
    return value


def _key(spec: ProviderSpec, settings: Settings, model_id: str) -> str | None:
    if spec.key_env is None:
        return None
    secret = _setting(spec.key_env, settings)
    if not spec.key_required:
        return secret.get_secret_value() if secret else None
    value = secret.get_secret_value().strip() if secret is not None else ""
    if not value:
        raise ConfigError(
            f"Model {model_id!r} needs an API key: set {spec.key_env} in the environment "
            f"(or {spec.key_env.lower()} in the TOML file named by AGENT_CONFIG)."
        )
    return value
