"""Settings from environment variables and an optional TOML file.

Precedence, highest first: arguments to :func:`load_settings`, environment variables, the TOML
file named by ``AGENT_CONFIG``, defaults. Environment names are the field names upper-cased with
an ``AGENT_`` prefix (``max_steps`` → ``AGENT_MAX_STEPS``), except the provider keys, which use
the providers' own names (``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``). TOML keys are the field
names, flat at top level; the HTTP server's settings (:class:`agent.server.ServerSettings`) go
in a ``[server]`` table of the same file::

    model = "openai:gpt-4.1-mini"
    max_steps = 30
    headless = false

    [server]
    port = 3002
    max_sessions = 4

An environment value ``none`` means None (``AGENT_TEMPERATURE=none``: send no temperature);
an empty one means unset. ``model`` defaults to ``None``: no model configured. Code that needs
one calls :meth:`Settings.require_model`, which says what to set. Keys are ``SecretStr`` and
never show in ``repr`` or logs.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from agent import procfs
from agent.errors import ConfigError

__all__ = [
    "CONFIG_ENV_VAR",
    "SERVER_TABLE",
    "Settings",
    "TomlFileSource",
    "TomlSettings",
    "default_browser_memory_mb",
    "default_data_dir",
    "load_settings",
    "total_memory_mib",
]

SERVER_TABLE = "server"
"""The TOML table holding the server's settings; the top level holds the agent's."""

CONFIG_ENV_VAR = "AGENT_CONFIG"
"""Environment variable holding the path of the optional TOML settings file."""

# An explicit config_file given to load_settings() wins over AGENT_CONFIG for that one call.
_explicit_config_file: ContextVar[Path | None] = ContextVar("_explicit_config_file", default=None)


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/browser-agent``, else ``~/.local/share/browser-agent``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "browser-agent"


def total_memory_mib() -> float | None:
    """The machine's memory (``MemTotal``), MiB; None when /proc/meminfo does not say."""
    total_kib = procfs.memory_total_kib()
    return None if total_kib is None else total_kib / 1024


def default_browser_memory_mb() -> int:
    """One eighth of the machine's memory, at least 1 GiB and at most 4 GiB: room for a heavy page
    (a few hundred MiB) many times over, while one session can never take the machine."""
    total_mib = total_memory_mib()
    if total_mib is None:
        return 2048
    return min(4096, max(1024, int(total_mib) // 8))


class TomlSettings(BaseSettings):
    """Settings from arguments, then the environment, then the TOML file (its top level, or the
    table a subclass names in ``toml_table``)."""

    toml_table: ClassVar[str | None] = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlFileSource(settings_cls, table=cls.toml_table))


class Settings(TomlSettings):
    """Everything the agent can be configured with; see the module docstring for sources."""

    model_config = SettingsConfigDict(
        env_prefix="AGENT_",
        case_sensitive=False,
        env_ignore_empty=True,
        env_parse_none_str="none",
        extra="forbid",
        protected_namespaces=(),
        validate_default=True,
    )

    model: str | None = Field(
        default=None,
        description='Model id as "provider:name", e.g. "openai:gpt-4.1-mini", or "demo" (the '
        "offline demo model); unset: no model configured.",
    )
    base_url: str | None = Field(
        default=None,
        description="Base URL of the model API (an OpenAI-compatible server, or a proxy); required "
        "for openai-compatible: models, optional for the others.",
    )
    openai_api_key: SecretStr | None = Field(
        default=None,
        validation_alias="openai_api_key",
        description="Key for openai: models (and sent to openai-compatible servers if set); never "
        "logged.",
    )
    anthropic_api_key: SecretStr | None = Field(
        default=None,
        validation_alias="anthropic_api_key",
        description="Key for anthropic: models; never logged.",
    )
    temperature: float | None = Field(
        default=0.0,
        ge=0.0,
        le=2.0,
        description='Sampling temperature; None ("none" in env) sends none, for models that '
        "accept only their default. Anthropic's current API takes none and ignores it.",
    )
    max_steps: int = Field(default=20, ge=1, description="Planner steps per prompt.")
    max_snapshot_tokens: int = Field(
        default=6000, ge=100, description="Token cap of the snapshot the model reads each step."
    )
    model_timeout: float = Field(default=60.0, gt=0, description="Seconds per model request.")
    model_retries: int = Field(
        default=3, ge=0, le=20, description="Retries after the first attempt (429, 5xx, timeout)."
    )
    action_timeout: float = Field(default=5.0, gt=0, description="Seconds per browser action.")
    navigation_timeout: float = Field(default=30.0, gt=0, description="Seconds per navigation.")
    browser_path: Path | None = Field(
        default=None,
        description="Chromium binary; unset: chromium on PATH, else Playwright's own build.",
    )
    data_dir: Path = Field(
        default_factory=lambda: default_data_dir(),
        description="Where the agent keeps what outlives a process (the server's usage counts "
        "without Redis, in usage.sqlite3; caches); by default $XDG_DATA_HOME/browser-agent. A "
        "top-level data_dir in the TOML file, not in [server].",
        json_schema_extra={"doc_default": "`~/.local/share/browser-agent`"},
    )
    headless: bool = Field(
        default=True, description="Run the browser headless (a headed browser runs unboxed)."
    )
    sandbox: Literal["bwrap"] | None = Field(
        default="bwrap",
        description='Where code runs: "bwrap" (a bubblewrap sandbox per session) or none (as '
        "the server's own user: trusted single-user mode only).",
    )
    browser_sandbox: Literal["bwrap"] | None = Field(
        default="bwrap",
        description='Where a local browser runs: "bwrap" (a bubblewrap box per session, as a '
        "user of its own when the server runs as root, seeing only its own folders) or none "
        "(as the server's own user, with its files: trusted single-user mode only).",
    )
    browser_memory_mb: int = Field(
        default_factory=default_browser_memory_mb,
        ge=128,
        description="Memory a session's boxed browser may use, all its processes together, MiB; "
        "past it the session ends (its next call is a 410).",
        json_schema_extra={"doc_default": "an eighth of the machine's memory, 1024 to 4096"},
    )
    sandbox_memory_mb: int = Field(
        default=4096,
        ge=256,
        description="Private writable memory per sandboxed process, MiB (RLIMIT_DATA).",
    )
    sandbox_cpu_seconds: int = Field(
        default=600,
        ge=1,
        description="CPU seconds per sandboxed process (a warm worker that "
        "uses them up is replaced).",
    )
    sandbox_processes: int = Field(
        default=256, ge=16, description="Processes and threads a session's sandbox may hold."
    )
    sandbox_file_size_mb: int = Field(
        default=100, ge=1, description="Largest file sandboxed code may write, MiB."
    )
    sandbox_tmp_mb: int = Field(default=256, ge=16, description="Size of the sandbox's /tmp, MiB.")
    sandbox_outbound_network: bool = Field(
        default=False,
        description="Let sandboxed code use the network. It then shares the host's network, "
        "loopback services included: for trusted code only.",
    )

    prompt_cache: bool = Field(
        default=False,
        description="Replay a prompt seen before on the same page from its recorded recipe, "
        "with no model call (on|off); a request's cache field, or the Python API's cache=, "
        "overrides it. See docs/prompt-cache.md.",
    )
    prompt_cache_ttl: float = Field(
        default=7 * 24 * 3600.0,
        gt=0,
        description="Seconds a cached recipe is kept after it was stored or healed.",
    )
    prompt_cache_redact: str | None = Field(
        default=None,
        description="Regular expression: what it matches in a prompt (a password, a card "
        "number) is kept out of the prompt cache and replayed from the new prompt's text.",
    )

    @field_validator("prompt_cache_redact")
    @classmethod
    def _valid_pattern(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from exc
        return value

    @property
    def redact_pattern(self) -> re.Pattern[str] | None:
        """``prompt_cache_redact`` compiled; None when unset."""
        return re.compile(self.prompt_cache_redact) if self.prompt_cache_redact else None

    @field_validator("sandbox", "browser_sandbox", mode="before")
    @classmethod
    def _sandbox_none(cls, value: object) -> object:
        return None if isinstance(value, str) and value.strip().lower() == "none" else value

    def __init__(self, **values: Any) -> None:
        with _as_config_error():
            super().__init__(**values)

    def require_model(self) -> str:
        """Return the configured model id, or raise ConfigError saying how to set one."""
        if not self.model:
            raise ConfigError(
                "No model configured: set AGENT_MODEL to a model id such as "
                '"openai:gpt-4.1-mini", "anthropic:claude-sonnet-4-6" or "ollama:qwen3" '
                f"(or put model = ... in the TOML file named by {CONFIG_ENV_VAR}); "
                "AGENT_MODEL=demo tries it without a key (an offline demo model that follows "
                "simple commands: click, fill, read)."
            )
        return self.model


class TomlFileSource(PydanticBaseSettingsSource):
    """Reads the TOML file named by AGENT_CONFIG (or load_settings(config_file=...)): its top
    level for the agent's settings, or one table of it (``table="server"``)."""

    def __init__(self, settings_cls: type[BaseSettings], *, table: str | None = None) -> None:
        super().__init__(settings_cls)
        self.table = table

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        # Unused: __call__ returns the whole file at once.
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = _explicit_config_file.get()
        origin = "config_file argument"
        if path is None:
            raw = os.environ.get(CONFIG_ENV_VAR, "").strip()
            if not raw:
                return {}
            path, origin = Path(raw), CONFIG_ENV_VAR
        data = _read_toml(path.expanduser(), origin)
        if self.table is None:
            data.pop(SERVER_TABLE, None)
            return data
        section = data.get(self.table, {})
        if not isinstance(section, dict):
            raise ConfigError(f"Config file {str(path)!r}: {self.table} must be a [table].")
        # The server's settings ignore unknown AGENT_* variables (they hold the agent's own
        # settings), so a misspelt key in its table is caught here instead.
        unknown = sorted(set(section) - set(self.settings_cls.model_fields))
        if unknown:
            raise ConfigError(
                f"Config file {str(path)!r}: unknown key(s) {', '.join(unknown)} in "
                f"[{self.table}]; known: {', '.join(sorted(self.settings_cls.model_fields))}."
            )
        return section


def _read_toml(path: Path, origin: str) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        hint = f", or unset {CONFIG_ENV_VAR} to use environment variables only"
        raise ConfigError(
            f"Config file {str(path)!r} (from {origin}) does not exist: fix the path"
            + (hint if origin == CONFIG_ENV_VAR else "")
            + "."
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"Config file {str(path)!r} (from {origin}) is unreadable: {exc}"
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Config file {str(path)!r} is not valid TOML: {exc}") from exc
    return data


def load_settings(*, config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Build Settings from overrides, the environment and the TOML file, in that precedence.

    Args:
        config_file: TOML file to read instead of the one named by ``AGENT_CONFIG``.
        **overrides: field values that win over every other source (e.g. ``max_steps=5``).

    Raises:
        ConfigError: the file is missing or not TOML, a key is unknown, or a value is invalid.
    """
    token = _explicit_config_file.set(Path(config_file) if config_file is not None else None)
    try:
        return Settings(**overrides)
    finally:
        _explicit_config_file.reset(token)


@contextmanager
def _as_config_error() -> Iterator[None]:
    try:
        yield
    except ValidationError as exc:
        problems = "; ".join(_describe(err) for err in exc.errors())
        raise ConfigError(f"Invalid settings: {problems}.") from None


def _describe(err: Any) -> str:
    loc = err.get("loc") or ("?",)
    name = str(loc[0])
    if err.get("type") == "extra_forbidden":
        known = ", ".join(sorted(Settings.model_fields))
        return (
            f"unknown setting {name!r} (in the config file or arguments); known settings: {known}"
        )
    value = err.get("input")
    shown = "<hidden>" if name.endswith("api_key") else repr(value)
    return f"{name} ({_env_name(name)}) = {shown}: {err.get('msg', 'invalid value')}"


def _env_name(field_name: str) -> str:
    if field_name.endswith("api_key"):
        return field_name.upper()
    return f"AGENT_{field_name.upper()}"
