"""Settings: environment, TOML file, precedence and error messages."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.config import Settings, load_settings
from agent.errors import ConfigError
from agent.messages import ModelSettings
from tests.harness import agent_config


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("AGENT_") or name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
            monkeypatch.delenv(name)


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(
        'model = "anthropic:claude-sonnet-4-6"\n'
        "max_steps = 30\n"
        "temperature = 0.7\n"
        'anthropic_api_key = "sk-ant-from-file"\n'
        "headless = false\n"
    )
    monkeypatch.setenv("AGENT_CONFIG", str(path))
    return path


def test_defaults() -> None:
    settings = load_settings()
    assert settings.model is None
    assert settings.base_url is None
    assert settings.openai_api_key is None and settings.anthropic_api_key is None
    assert (settings.temperature, settings.max_steps, settings.max_snapshot_tokens) == (
        0.0,
        20,
        6000,
    )
    assert (settings.model_timeout, settings.model_retries) == (60.0, 3)
    assert (settings.action_timeout, settings.navigation_timeout) == (5.0, 30.0)
    assert settings.browser_path is None and settings.headless is True


def test_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_MODEL", "openai:gpt-4.1-mini")
    monkeypatch.setenv("AGENT_BASE_URL", "http://localhost:8000/v1")
    monkeypatch.setenv("AGENT_MAX_STEPS", "7")
    monkeypatch.setenv("AGENT_ACTION_TIMEOUT", "2.5")
    monkeypatch.setenv("AGENT_HEADLESS", "false")
    monkeypatch.setenv("AGENT_BROWSER_PATH", "/usr/bin/chromium")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    monkeypatch.setenv("AGENT_RECORD", "fake")  # other components' variables are ignored

    settings = load_settings()

    assert settings.model == "openai:gpt-4.1-mini"
    assert settings.base_url == "http://localhost:8000/v1"
    assert settings.max_steps == 7 and settings.action_timeout == 2.5
    assert settings.headless is False
    assert settings.browser_path == Path("/usr/bin/chromium")
    assert settings.openai_api_key is not None
    assert settings.openai_api_key.get_secret_value() == "sk-env"


def test_empty_variables_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_BASE_URL", "")
    monkeypatch.setenv("AGENT_MAX_STEPS", "")
    settings = load_settings()
    assert settings.base_url is None and settings.max_steps == 20


def test_toml_file(config_file: Path) -> None:
    settings = load_settings()
    assert settings.model == "anthropic:claude-sonnet-4-6"
    assert settings.max_steps == 30 and settings.temperature == 0.7
    assert settings.headless is False
    assert settings.anthropic_api_key is not None
    assert settings.anthropic_api_key.get_secret_value() == "sk-ant-from-file"


def test_config_file_argument(tmp_path: Path) -> None:
    path = tmp_path / "other.toml"
    path.write_text("max_steps = 3\n")
    assert load_settings(config_file=path).max_steps == 3
    assert load_settings().max_steps == 20  # the argument applies to that call only


def test_precedence_arguments_then_env_then_file(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENT_MAX_STEPS", "12")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-env")

    settings = load_settings(temperature=0.1)

    assert settings.temperature == 0.1  # argument beats file
    assert settings.max_steps == 12  # env beats file
    assert settings.anthropic_api_key is not None
    assert settings.anthropic_api_key.get_secret_value() == "sk-ant-env"
    assert settings.model == "anthropic:claude-sonnet-4-6"  # file beats default
    assert load_settings(max_steps=2).max_steps == 2  # argument beats env


def test_missing_config_file_names_the_path_and_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "nope.toml"
    monkeypatch.setenv("AGENT_CONFIG", str(missing))
    with pytest.raises(ConfigError, match="does not exist") as caught:
        load_settings()
    assert str(missing) in str(caught.value) and "AGENT_CONFIG" in str(caught.value)


def test_invalid_toml(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("max_steps = = 3\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(config_file=path)


def test_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_MAX_STEPS", "many")
    with pytest.raises(ConfigError, match="AGENT_MAX_STEPS") as caught:
        load_settings()
    assert "'many'" in str(caught.value) and "integer" in str(caught.value)


def test_out_of_range_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_MODEL_TIMEOUT", "0")
    with pytest.raises(ConfigError, match="AGENT_MODEL_TIMEOUT"):
        load_settings()


def test_unknown_key_in_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "typo.toml"
    path.write_text("max_step = 3\n")
    with pytest.raises(ConfigError, match="unknown setting 'max_step'") as caught:
        load_settings(config_file=path)
    assert "max_steps" in str(caught.value)  # lists the known names


def test_direct_construction_also_raises_config_error() -> None:
    with pytest.raises(ConfigError):
        Settings(max_steps=0)


def test_keys_never_appear_in_repr_or_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-very-secret")
    settings = load_settings()
    for text in (repr(settings), str(settings), settings.model_dump_json()):
        assert "very-secret" not in text
    with pytest.raises(ConfigError) as caught:
        load_settings(openai_api_key=["sk-very-secret"])
    assert "very-secret" not in str(caught.value)


def test_require_model_says_what_to_set() -> None:
    with pytest.raises(ConfigError, match="AGENT_MODEL"):
        load_settings().require_model()
    assert load_settings(model="ollama:qwen3").require_model() == "ollama:qwen3"


def test_model_settings() -> None:
    settings = load_settings(temperature=0.3, model_timeout=12)
    assert ModelSettings.from_settings(settings) == ModelSettings(temperature=0.3, timeout_s=12.0)


def test_temperature_none_is_not_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_TEMPERATURE", "none")
    settings = load_settings()
    assert settings.temperature is None
    assert ModelSettings.from_settings(settings).temperature is None


def test_server_table_configures_the_server_and_not_the_agent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.server import ServerSettings

    agent_config(
        monkeypatch,
        tmp_path,
        'model = "openai:gpt-4.1-mini"\n'
        "max_steps = 7\n"
        "[server]\n"
        "port = 4010\n"
        "max_sessions = 3\n"
        'api_keys = ["k-one", "k-two"]\n'
        "block_private_addresses = true\n",
    )
    monkeypatch.setenv("AGENT_MAX_SESSIONS", "5")  # the environment wins over the file
    agent_settings = load_settings()
    assert (agent_settings.model, agent_settings.max_steps) == ("openai:gpt-4.1-mini", 7)
    server = ServerSettings()
    assert (server.port, server.max_sessions, server.block_private_addresses) == (4010, 5, True)
    assert server.key_values() == [b"k-one", b"k-two"]
    assert ServerSettings(port=4011).port == 4011  # and arguments win over both


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("[server]\nmax_session = 3\n", "unknown key(s) max_session in [server]"),
        ("server = 3\n", "server must be a [table]"),
        ("[server]\nport = 'x'\n", "port"),
    ],
)
def test_bad_server_table_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, table: str, message: str
) -> None:
    from agent.server import ServerSettings

    path = tmp_path / "agent.toml"
    path.write_text(table)
    monkeypatch.setenv("AGENT_CONFIG", str(path))
    with pytest.raises(ConfigError) as caught:
        ServerSettings()
    assert message in str(caught.value)
