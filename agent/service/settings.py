"""Settings of the HTTP server, from arguments, ``AGENT_*`` environment variables, or the
``[server]`` table of the TOML file named by ``AGENT_CONFIG``, in that precedence.

Browser and model settings (``AGENT_MODEL``, ``AGENT_BROWSER_PATH``, ...) stay in
:class:`agent.config.Settings`; these are only what the server itself needs::

    AGENT_HOST=0.0.0.0 AGENT_PORT=3002 AGENT_API_KEYS=key-one,key-two agent serve
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, PrivateAttr, SecretStr, ValidationError, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from agent.browser.providers import Endpoint
from agent.config import SERVER_TABLE, TomlSettings, default_data_dir, total_memory_mib
from agent.errors import ConfigError
from agent.service.keys import ANONYMOUS, ApiKey, KeyBudget, parse_api_keys
from agent.service.pool import DEFAULT_LAUNCH_CONCURRENCY
from agent.service.turns import DEFAULT_SCRAPE_CONCURRENCY

__all__ = [
    "SESSION_MEMORY_MIB",
    "ServerSettings",
    "default_max_sessions",
    "default_profiles_dir",
    "routable_address",
]

log = logging.getLogger(__name__)


SESSION_MEMORY_MIB = 180
"""What one idle session on a small page costs (PSS; `python3 -m evals.load` measures it), with
room to spare, for the default session limit."""


def default_max_sessions() -> int:
    """As many sessions as 80% of the machine's memory holds at ``SESSION_MEMORY_MIB`` each."""
    total_mib = total_memory_mib()
    if total_mib is None:
        return 8
    return max(2, int(total_mib * 0.8 / SESSION_MEMORY_MIB))


def default_profiles_dir() -> Path:
    """Where named profiles live unless AGENT_PROFILES_DIR says otherwise (XDG data dir)."""
    return default_data_dir() / "profiles"


class ServerSettings(TomlSettings):
    """How the Firecrawl-compatible server listens, authenticates and bounds its sessions."""

    model_config = SettingsConfigDict(
        env_prefix="AGENT_",
        case_sensitive=False,
        env_ignore_empty=True,
        extra="ignore",  # AGENT_* also holds the agent's own settings (agent.config.Settings)
    )
    toml_table = SERVER_TABLE

    host: str = Field(default="127.0.0.1", description="Address to listen on.")
    port: int = Field(default=3002, ge=0, le=65535, description="Port; 0 picks a free one.")
    public_url: str | None = Field(
        default=None,
        description="Base URL clients reach this server at, for cdpUrl and live-view links; "
        "None: the request's own, when its Host is trusted (see allowed_hosts).",
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Host names, comma-separated, that requests may name besides the address "
        "the server listens on (a load balancer's name); .example.com allows its subdomains, "
        "* any name. A request naming another Host is answered 400.",
    )
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Accepted bearer tokens, comma-separated, each as name:KEY or a bare KEY "
        "(named key- and a short hash of it); empty: no authentication.",
    )
    key_budgets: dict[str, KeyBudget] = Field(
        default_factory=dict,
        description='What each key name may spend per calendar month, e.g. {"tiny": '
        '{"credits": 1000, "tokens": 200000}} ([server.key_budgets] in TOML); past it, 402.',
    )
    metrics: bool = Field(
        default=True, description="Serve Prometheus metrics at /metrics and count them."
    )
    metrics_public: bool = Field(
        default=False,
        description="Serve /metrics without an API key (for a scraper on a private network).",
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="Log lines as text, or as one JSON object per line with request ids "
        "(agent serve --log-format json).",
    )
    session_ttl: float = Field(
        default=600.0, gt=0, description="Seconds a session may live, however busy."
    )
    activity_ttl: float = Field(
        default=300.0, gt=0, description="Seconds a session may stay idle before it is closed."
    )
    max_sessions: int = Field(
        default_factory=lambda: default_max_sessions(),
        ge=1,
        description="Browser sessions open at once, then 429; by default what 80% of the "
        f"machine's memory holds at {SESSION_MEMORY_MIB} MiB a session.",
        json_schema_extra={"doc_default": "from memory"},
    )
    warm_browsers: int = Field(
        default=2,
        ge=0,
        le=64,
        description="Browsers kept started in reserve so a scrape need not wait for one (size "
        "it for the bursts you expect); 0: none.",
    )
    launch_concurrency: int = Field(
        default=DEFAULT_LAUNCH_CONCURRENCY,
        ge=1,
        le=64,
        description="Browsers started at once (starting one is CPU-bound).",
        json_schema_extra={"doc_default": "cores + 1"},
    )
    browser_endpoints: Annotated[list[Endpoint], NoDecode] = Field(
        default_factory=list,
        description='Where sessions\' browsers come from, as a JSON list such as [{"kind": "cdp", '
        '"url": "http://10.0.0.5:9222", "capacity": 8}]; empty: a local Chromium per session.',
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis holding the session table shared by replicas (redis://host:6379/0); "
        "None: this process's memory (one server).",
    )
    replica_url: str | None = Field(
        default=None,
        description="The URL other replicas forward this replica's sessions' requests to; None: "
        "the host and port it serves on (for 0.0.0.0 or ::, this machine's default route's "
        "address).",
    )
    scrape_concurrency: int = Field(
        default=DEFAULT_SCRAPE_CONCURRENCY,
        ge=0,
        le=256,
        description="Scrapes at work at once; more wait their turn, first come first served "
        "(a turn is kept while the scrape's browser starts and ends 2 s after, so a slow site "
        "does not hold others); 0: no limit.",
        json_schema_extra={"doc_default": "four per core"},
    )
    queue_timeout: float = Field(
        default=30.0,
        ge=0,
        le=600,
        description="Seconds a scrape may wait in the first-come-first-served line for a browser "
        "to start, and for its turn, before it is answered 429 with Retry-After.",
    )
    profiles_dir: Path = Field(
        default_factory=default_profiles_dir,
        description="Where named profiles are stored; by default $XDG_DATA_HOME/browser-agent/"
        "profiles.",
        json_schema_extra={"doc_default": "`~/.local/share/browser-agent/profiles`"},
    )
    block_private_addresses: bool = Field(
        default=False,
        description="Refuse URLs whose host is loopback, private or link-local (SSRF guard); "
        "turn it on for any exposed server.",
    )
    mcp_max_snapshot_tokens: int = Field(
        default=4000,
        ge=100,
        description="Token cap of an MCP client's snapshots (browser_snapshot without max_tokens)."
        " Lower than the planner's AGENT_MAX_SNAPSHOT_TOKENS: the planner replaces its last "
        "snapshot, while an MCP client keeps every result in its context.",
    )
    mcp_prepare_snapshots: bool = Field(
        default=True,
        description="After an MCP client's browser_navigate, browser_navigate_back and "
        "browser_click, do the browser's side of the snapshot it will most likely ask for next "
        "while its model thinks (no ref is issued until it asks); false: only when it asks.",
    )
    reap_interval: float = Field(
        default=5.0,
        gt=0,
        description="Seconds between checks for sessions past their TTL or idle.",
    )
    default_scrape_timeout: float = Field(
        default=30.0, gt=0, description="Seconds a scrape may take when the body sets no timeout."
    )
    default_code_timeout: int = Field(
        default=30,
        ge=1,
        le=300,
        description="Seconds for an interact call with code when the body sets no timeout.",
    )
    default_prompt_timeout: int = Field(
        default=300,
        ge=1,
        le=3600,
        description="Seconds for an interact call with a prompt when the body sets no timeout, "
        "and for a scrape's json and summary formats after its page is taken.",
    )
    max_extract_tokens: int = Field(
        default=30_000,
        ge=500,
        description="Tokens of a page's markdown sent to the model for json and summary; the "
        "rest is cut off, with a warning (keep it within the model's context window).",
    )

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc'])} (AGENT_{str(err['loc'][0]).upper()}): "
                f"{err['msg']}"
                for err in exc.errors()
            )
            raise ConfigError(f"Invalid server settings: {problems}.") from None

    @field_validator("api_keys", "allowed_hosts", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("browser_endpoints", mode="before")
    @classmethod
    def _parse_endpoints(cls, value: object) -> object:
        # Parsed here rather than by pydantic-settings, whose error for bad JSON is a traceback
        # naming no variable; a ValueError here becomes a ConfigError naming the setting.
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else []
            except json.JSONDecodeError as exc:
                raise ValueError(
                    f'not valid JSON ({exc}); expected a list such as [{{"kind": "cdp", '
                    '"url": "http://10.0.0.5:9222", "capacity": 8}]'
                ) from None
        return value

    @field_validator("browser_endpoints")
    @classmethod
    def _distinct_endpoints(cls, value: list[Endpoint]) -> list[Endpoint]:
        # Sessions are counted per endpoint name: a duplicate would share one count while
        # being offered twice, so its capacity would mean nothing.
        seen: set[tuple[str, str]] = set()
        for endpoint in value:
            key = (endpoint.kind, (endpoint.url or "").rstrip("/"))
            if key in seen:
                raise ValueError(f"{endpoint.name} is listed twice; list each endpoint once")
            seen.add(key)
        return value

    _keys: list[ApiKey] = PrivateAttr(default_factory=list)

    def model_post_init(self, context: Any, /) -> None:
        self._keys = parse_api_keys(self.api_keys)
        known = {key.name for key in self._keys} or {ANONYMOUS}
        unknown = sorted(set(self.key_budgets) - known)
        if unknown:
            raise ConfigError(
                f"key_budgets (AGENT_KEY_BUDGETS) names {', '.join(unknown)}, which no key in "
                f"AGENT_API_KEYS is named (names: {', '.join(sorted(known))}); name the key "
                "(name:KEY) or fix the budget's name."
            )

    def keys(self) -> list[ApiKey]:
        """The accepted API keys with their names."""
        return self._keys

    def own_url(self) -> str:
        """The URL other replicas reach this one at: the setting, else the address it listens
        on (when it listens on every interface, the address of this machine's default route).

        Raises:
            ConfigError: the port is 0 (picked when the server starts, so other replicas
                cannot be told it) and AGENT_REPLICA_URL is unset.
        """
        if self.replica_url:
            return self.replica_url.rstrip("/")
        if self.port == 0:
            raise ConfigError(
                "AGENT_PORT=0 picks a free port when the server starts, which other replicas "
                "sharing AGENT_REDIS_URL cannot be told: set AGENT_PORT, or AGENT_REPLICA_URL to "
                "the URL they reach this replica at."
            )
        host = self.host
        if host in ("0.0.0.0", "::", ""):
            # "::" is served over IPv6 only (asyncio binds it IPV6_V6ONLY); the others over IPv4.
            family = socket.AF_INET6 if host == "::" else socket.AF_INET
            host = routable_address(family) or ("::1" if family == socket.AF_INET6 else "127.0.0.1")
            if _is_loopback(host):
                log.warning(
                    "AGENT_HOST=%s: found no address of this machine but loopback (%s), which "
                    "replicas on other machines cannot reach. Set AGENT_REPLICA_URL to the URL "
                    "other replicas reach this one at.",
                    self.host or '""',
                    host,
                )
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def exposure_warning(self) -> str | None:
        """What to warn about when the server listens beyond loopback with no API keys."""
        if self.api_keys or _is_loopback(self.host):
            return None
        return (
            f"Listening on {self.host!r}, beyond this machine, with no API keys: anyone who can "
            "reach the port can drive its browsers and run code on this machine. Set "
            "AGENT_API_KEYS (and AGENT_BLOCK_PRIVATE_ADDRESSES=true), or bind to 127.0.0.1."
        )

    def key_values(self) -> list[bytes]:
        """The API keys as bytes (without their names), for constant-time comparison."""
        return [key.value for key in self._keys]


_ROUTE_PROBES = {socket.AF_INET: "192.0.2.1", socket.AF_INET6: "2001:db8::1"}
"""Addresses for documentation (RFC 5737, RFC 3849), never in use: a UDP socket "connected" to
one gets the source address of the route there, the default one, and no packet is sent."""


def routable_address(family: socket.AddressFamily = socket.AF_INET) -> str | None:
    """This machine's address that other machines reach: the source address of its default
    route, else what its host name resolves to; None when both are loopback or missing.

    Not ``gethostbyname(gethostname())`` alone: on Debian and Ubuntu the host name resolves to
    127.0.1.1 (``/etc/hosts``), which only this machine reaches.
    """
    candidates: list[str] = []
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((_ROUTE_PROBES[family], 9))
            candidates.append(str(probe.getsockname()[0]))
    except OSError:
        pass  # no route at all (no network, or no IPv6)
    try:
        resolved = socket.getaddrinfo(socket.gethostname(), None, family, socket.SOCK_STREAM)
        candidates.extend(str(info[4][0]) for info in resolved)
    except OSError:
        pass
    for candidate in candidates:
        address = ipaddress.ip_address(candidate.split("%")[0])
        if not (address.is_loopback or address.is_unspecified or address.is_link_local):
            return candidate
    return None


def _is_loopback(host: str) -> bool:
    if host.strip().lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve anywhere
