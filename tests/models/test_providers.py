"""The provider table: one row per provider, and every place that needs a provider reads it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from agent.cli import build_parser
from agent.cli.local_server import server_settings
from agent.config import Settings
from agent.errors import ConfigError
from agent.models import (
    OLLAMA_BASE_URL,
    PROVIDER_SPECS,
    PROVIDERS,
    Model,
    ModelRequest,
    ScriptedRequest,
    check_model,
    create_model,
    model_keys,
    provider_spec,
)
from agent.models.providers import ProviderSpec, recordable_providers
from agent.models.sdk import SdkModel
from evals.provider_server import FakeProviderServer

BUILT = [spec for spec in PROVIDER_SPECS if spec.code_only is None]


@pytest.fixture(autouse=True)
def no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for spec in PROVIDER_SPECS:
        for name in (spec.key_env, spec.sdk_base_url_env):
            if name:
                monkeypatch.delenv(name, raising=False)


def test_each_provider_is_one_row_in_the_order_errors_list_them() -> None:
    assert PROVIDERS == ("openai", "anthropic", "openai-compatible", "ollama", "demo", "scripted")
    assert [provider_spec(prefix) for prefix in PROVIDERS] == list(PROVIDER_SPECS)


def test_the_hosted_providers_are_recorded_against_their_real_hosts() -> None:
    origins = {spec.prefix: spec.real_origin for spec in recordable_providers()}
    assert origins == {"openai": "https://api.openai.com", "anthropic": "https://api.anthropic.com"}
    assert provider_spec("openai").base_url == "https://api.openai.com/v1"
    assert provider_spec("anthropic").base_url == "https://api.anthropic.com"
    ollama = provider_spec("ollama")
    assert (ollama.base_url, ollama.real_origin, ollama.hosted) == (OLLAMA_BASE_URL, None, False)


def test_every_key_variable_is_a_setting_and_every_key_setting_belongs_to_a_provider(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The settings sit below the models and cannot read the table: this keeps them in step."""
    variables = {spec.key_env for spec in PROVIDER_SPECS if spec.key_env}
    key_settings = {name for name in Settings.model_fields if name.endswith("_api_key")}
    assert {variable.lower() for variable in variables} == key_settings
    assert model_keys(Settings(anthropic_api_key="sk-ant-only")) == ["sk-ant-only"]
    for variable in variables:
        monkeypatch.setenv(variable, f"sk-{variable}")
    settings = Settings()
    for variable in variables:
        assert getattr(settings, variable.lower()).get_secret_value() == f"sk-{variable}"
    assert model_keys(settings) == sorted(f"sk-{variable}" for variable in variables)


def _settings_for(spec: ProviderSpec) -> Settings:
    keys = {spec.key_env.lower(): "sk-x"} if spec.key_env else {}
    base_url = "http://127.0.0.1:9/v1" if spec.base_url_hint else None
    return Settings(base_url=base_url, **keys)


@pytest.mark.parametrize("spec", BUILT, ids=lambda spec: spec.prefix)
async def test_each_provider_is_built_from_its_row(spec: ProviderSpec) -> None:
    model = create_model(f"{spec.prefix}:some-model", settings=_settings_for(spec))
    assert isinstance(model, Model)
    assert model.model_id == f"{spec.prefix}:some-model"
    if isinstance(model, SdkModel):
        assert model.provider == spec.prefix
        expected = spec.base_url or "http://127.0.0.1:9/v1"
        assert str(model.client.base_url).rstrip("/") == expected
        await model.aclose()


@pytest.mark.parametrize(
    "spec", [s for s in PROVIDER_SPECS if s.key_required], ids=lambda spec: spec.prefix
)
def test_the_start_up_check_asks_for_the_rows_key(spec: ProviderSpec) -> None:
    assert spec.key_env
    with pytest.raises(ConfigError, match=f"needs an API key: set {spec.key_env} "):
        check_model(Settings(model=f"{spec.prefix}:m"))
    check_model(_settings_for(spec).model_copy(update={"model": f"{spec.prefix}:m"}))


def test_the_start_up_check_needs_no_key_for_a_local_server_but_a_url_for_a_compatible_one() -> (
    None
):
    check_model(Settings(model="ollama:qwen3"))
    check_model(Settings(model="demo"))
    with pytest.raises(ConfigError, match="set AGENT_BASE_URL to its OpenAI-compatible endpoint"):
        check_model(Settings(model="openai-compatible:m"))


def test_the_fake_server_serves_each_providers_api_root() -> None:
    with FakeProviderServer() as server:
        assert server.base_url("openai") == server.openai_base_url == f"{server.url}/v1"
        assert server.base_url("anthropic") == server.anthropic_base_url == server.url
        assert server.base_url("ollama") == f"{server.url}/v1"


def test_agent_eval_offers_the_recordable_providers(capsys: pytest.CaptureFixture[str]) -> None:
    assert build_parser().parse_args(["eval", "--provider", "anthropic"]).provider == "anthropic"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["eval", "--provider", "ollama"])
    assert "(choose from 'openai', 'anthropic', 'both')" in capsys.readouterr().err


def test_a_background_servers_fingerprint_covers_every_providers_key() -> None:
    env = {"OPENAI_API_KEY": "a", "ANTHROPIC_API_KEY": "b", "SOME_OTHER_API_KEY": "c"}
    assert set(server_settings(env)) == {"OPENAI_API_KEY", "ANTHROPIC_API_KEY"}


def test_the_command_line_reads_the_table_without_loading_a_backend() -> None:
    probe = (
        "import sys, agent.cli, agent.models.providers; "
        "print(sorted(m for m in ('openai', 'anthropic', 'agent.models.base', "
        "'agent.models.openai', 'agent.models.anthropic') if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert loaded.stdout.strip() == "[]", loaded.stderr


def test_the_scripted_model_records_model_requests() -> None:
    assert ScriptedRequest is ModelRequest
