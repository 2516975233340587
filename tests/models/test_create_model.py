"""Picking a backend from a "provider:name" id, and the messages when that fails."""

from __future__ import annotations

import pytest

import agent.models
from agent.config import Settings
from agent.errors import ConfigError
from agent.models import Model, ScriptedModel, create_model, parse_model_id
from agent.models.anthropic import AnthropicModel
from agent.models.openai import OpenAIModel


@pytest.fixture(autouse=True)
def no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "AGENT_MODEL_RETRIES"):
        monkeypatch.delenv(name, raising=False)


def test_openai() -> None:
    model = create_model(
        "openai:gpt-4.1-mini", settings=Settings(openai_api_key="sk-x", model_retries=5)
    )
    assert isinstance(model, OpenAIModel) and isinstance(model, Model)
    assert model.model_id == "openai:gpt-4.1-mini"
    assert model.retry.retries == 5
    assert str(model.client.base_url) == "https://api.openai.com/v1/"


def test_anthropic() -> None:
    model = create_model(
        "anthropic:claude-sonnet-4-6",
        settings=Settings(anthropic_api_key="sk-ant", model_timeout=9),
    )
    assert isinstance(model, AnthropicModel) and isinstance(model, Model)
    assert model.model_id == "anthropic:claude-sonnet-4-6"
    assert model.client.timeout == 9


def test_settings_default_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    assert create_model("openai:gpt-4.1-mini").model_id == "openai:gpt-4.1-mini"


@pytest.mark.parametrize(
    ("model_id", "env_var"),
    [
        ("openai:gpt-4.1-mini", "OPENAI_API_KEY"),
        ("anthropic:claude-haiku-4-5", "ANTHROPIC_API_KEY"),
    ],
)
def test_missing_key_names_the_variable(model_id: str, env_var: str) -> None:
    with pytest.raises(ConfigError, match=f"set {env_var}") as caught:
        create_model(model_id, settings=Settings())
    assert model_id in str(caught.value)


def test_openai_compatible_needs_base_url() -> None:
    with pytest.raises(ConfigError, match="set AGENT_BASE_URL"):
        create_model("openai-compatible:llama", settings=Settings(openai_api_key="sk-x"))


def test_unknown_provider_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="Unknown model provider 'gemini'") as caught:
        create_model("gemini:pro", settings=Settings())
    for provider in ("openai", "anthropic", "openai-compatible", "ollama"):
        assert provider in str(caught.value)


def test_id_without_provider_explains_the_format() -> None:
    with pytest.raises(ConfigError, match="provider:name"):
        create_model("gpt-4.1-mini", settings=Settings())


def test_id_without_name() -> None:
    with pytest.raises(ConfigError, match="names no model"):
        parse_model_id("openai:")


def test_scripted_is_only_built_in_code() -> None:
    with pytest.raises(ConfigError, match="test double") as caught:
        create_model("scripted")
    assert "ScriptedModel" in str(caught.value)
    assert isinstance(ScriptedModel(["hi"]), Model)


def test_parse_model_id_normalises() -> None:
    assert parse_model_id(" OpenAI:gpt-4.1-mini ") == ("openai", "gpt-4.1-mini")
    assert parse_model_id("ollama:qwen3:8b") == ("ollama", "qwen3:8b")


def test_public_names_are_exported() -> None:
    for name in agent.models.__all__:
        assert getattr(agent.models, name) is not None
    assert agent.models.OpenAIModel is OpenAIModel
    assert agent.models.AnthropicModel is AnthropicModel
    assert sorted(agent.models.__all__) == sorted(set(agent.models.__all__))
    with pytest.raises(AttributeError):
        _ = agent.models.NoSuchThing
