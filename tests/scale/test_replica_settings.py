"""The settings of a replica: the URL it tells other replicas, and its browser endpoints."""

from __future__ import annotations

import logging
import os
import re
import socket
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from agent.config import Settings
from agent.errors import ConfigError
from agent.server import ServerSettings
from agent.service import settings as settings_module
from agent.service.settings import routable_address


class _Probe:
    """A UDP socket whose "connect" finds the route's source address ``source`` (None: no
    route)."""

    def __init__(self, source: str | None) -> None:
        self.source = source

    def __enter__(self) -> _Probe:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def connect(self, address: tuple[Any, ...]) -> None:
        if self.source is None:
            raise OSError(101, "Network is unreachable")

    def getsockname(self) -> tuple[str, int]:
        assert self.source is not None
        return (self.source, 40000)


def _machine(monkeypatch: pytest.MonkeyPatch, *, route: str | None, name_resolves_to: str) -> None:
    """Make the settings module see a machine whose default route leaves from ``route`` and
    whose host name resolves to ``name_resolves_to`` (127.0.1.1 on Debian)."""
    fake = types.SimpleNamespace(**vars(socket))
    fake.socket = lambda family, kind: _Probe(route)
    fake.gethostname = lambda: "replica-host"
    fake.getaddrinfo = lambda *args: [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", (name_resolves_to, 0))
    ]
    monkeypatch.setattr(settings_module, "socket", fake)


def test_a_wildcard_host_advertises_the_default_routes_address_not_debians_127_0_1_1(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _machine(monkeypatch, route="10.1.2.3", name_resolves_to="127.0.1.1")
    assert ServerSettings(host="0.0.0.0", port=3002).own_url() == "http://10.1.2.3:3002"
    _machine(monkeypatch, route="2001:db8::5", name_resolves_to="127.0.1.1")
    assert ServerSettings(host="::", port=3002).own_url() == "http://[2001:db8::5]:3002"


def test_without_a_route_the_host_names_address_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    _machine(monkeypatch, route=None, name_resolves_to="10.0.0.7")
    assert ServerSettings(host="0.0.0.0", port=4000).own_url() == "http://10.0.0.7:4000"


def test_only_loopback_found_warns_to_set_the_replica_url(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _machine(monkeypatch, route=None, name_resolves_to="127.0.1.1")
    with caplog.at_level(logging.WARNING, logger=settings_module.__name__):
        url = ServerSettings(host="0.0.0.0", port=3002).own_url()
    assert url == "http://127.0.0.1:3002"
    assert "AGENT_REPLICA_URL" in caplog.text and "loopback" in caplog.text
    caplog.clear()
    settings = ServerSettings(host="0.0.0.0", port=3002, replica_url="http://10.9.9.9:3002/")
    assert settings.own_url() == "http://10.9.9.9:3002"  # the setting wins, with no warning
    assert ServerSettings(host="10.0.0.5", port=3002).own_url() == "http://10.0.0.5:3002"
    assert caplog.text == ""


def test_port_0_cannot_be_advertised() -> None:
    with pytest.raises(ConfigError, match=r"AGENT_PORT=0.*AGENT_REPLICA_URL"):
        ServerSettings(port=0).own_url()
    assert ServerSettings(port=0, replica_url="http://lb:80").own_url() == "http://lb:80"


def test_this_machines_routable_address_is_its_own_and_not_loopback() -> None:
    # Real: this machine (and CI's) has a default route. The address must be one it can bind,
    # i.e. its own, and one other machines can reach.
    address = routable_address()
    assert address is not None and not address.startswith("127."), address
    with socket.socket() as sock:
        sock.bind((address, 0))


@pytest.mark.parametrize(
    ("endpoints", "message"),
    [
        ('[{"kind": "cdp", "url": ', "not valid JSON"),
        ('{"kind": "local"}', "valid list"),
        ('[{"kind": "local"}, {"kind": "local"}]', "local is listed twice"),
        (
            '[{"kind": "cdp", "url": "http://h:9222", "capacity": 2},'
            ' {"kind": "cdp", "url": "http://h:9222/", "capacity": 4}]',
            "cdp:http://h:9222/ is listed twice",
        ),
    ],
)
def test_bad_browser_endpoints_are_a_config_error_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, endpoints: str, message: str
) -> None:
    monkeypatch.setenv("AGENT_BROWSER_ENDPOINTS", endpoints)
    with pytest.raises(ConfigError) as caught:
        ServerSettings()
    assert "AGENT_BROWSER_ENDPOINTS" in str(caught.value) and message in str(caught.value)


def test_endpoints_from_the_environment_and_the_toml_table(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AGENT_BROWSER_ENDPOINTS", '[{"kind": "cdp", "url": "http://h:9222"}]')
    assert [e.name for e in ServerSettings().browser_endpoints] == ["cdp:http://h:9222"]
    monkeypatch.delenv("AGENT_BROWSER_ENDPOINTS")
    config = tmp_path / "agent.toml"
    config.write_text(
        "[server]\nbrowser_endpoints = [\n"
        '  { kind = "local" },\n  { kind = "cdp", url = "http://h:9222", capacity = 8 },\n]\n'
    )
    monkeypatch.setenv("AGENT_CONFIG", str(config))
    assert [e.name for e in ServerSettings().browser_endpoints] == ["local", "cdp:http://h:9222"]
    config.write_text('[server]\nbrowser_endpoints = [{ kind = "local" }, { kind = "local" }]\n')
    with pytest.raises(ConfigError, match="local is listed twice"):
        ServerSettings()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"AGENT_BROWSER_ENDPOINTS": "[{kind: cdp}]"}, "AGENT_BROWSER_ENDPOINTS"),
        ({"AGENT_REDIS_URL": "redis://127.0.0.1:1/0", "AGENT_PORT": "0"}, "AGENT_PORT=0"),
    ],
)
def test_agent_serve_says_what_is_wrong_in_one_line(env: dict[str, str], message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "agent", "serve"],
        env={**_clean_env(), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("agent serve: ") and message in done.stderr, done.stderr


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("AGENT_")}


def test_the_scaling_out_docs_settings_are_the_servers(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    section = (Path(__file__).parents[2] / "docs" / "scaling.md").read_text()
    example = section[section.index("```toml\n") + 8 :]
    config = tmp_path / "agent.toml"
    config.write_text(example[: example.index("```")])
    monkeypatch.setenv("AGENT_CONFIG", str(config))
    settings = ServerSettings()  # an unknown key or a bad value would be a ConfigError
    assert settings.redis_url and len(settings.browser_endpoints) == 3
    named = set(re.findall(r"`AGENT_([A-Z_]+)`", section)) - {"CONFIG"}  # the file's own name
    server_fields = {name.upper() for name in ServerSettings.model_fields}
    agent_fields = {name.upper() for name in Settings.model_fields}
    assert named <= server_fields | agent_fields, named - server_fields - agent_fields
    # Every setting that bears on replicas is in the section.
    wanted = {
        "HOST", "PORT", "REPLICA_URL", "REDIS_URL", "BROWSER_ENDPOINTS", "MAX_SESSIONS",
        "SESSION_TTL", "ACTIVITY_TTL", "REAP_INTERVAL", "WARM_BROWSERS", "LAUNCH_CONCURRENCY",
        "QUEUE_TIMEOUT", "PROFILES_DIR", "PUBLIC_URL", "API_KEYS", "BLOCK_PRIVATE_ADDRESSES",
        "NAVIGATION_TIMEOUT",
    }  # fmt: skip
    assert wanted <= named, wanted - named
