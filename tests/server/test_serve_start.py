"""``agent serve`` refuses to start, at once and saying what to do, when it could only fail
later: a provider key missing for the configured model, its port already taken."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import uuid
from pathlib import Path

import pytest

from agent.cli.serve import EXIT_PORT_IN_USE
from tests.harness import free_port
from tests.processes import processes_with_env
from tests.subprocesses import run_agent


def _serve(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_agent(env, "serve", *args, timeout=120)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "AGENT_BASE_URL", "AGENT_CONFIG")
    }
    return {**env, "AGENT_PROFILES_DIR": str(tmp_path), **extra}


@pytest.mark.parametrize(
    ("model", "variable"),
    [
        ("openai:gpt-4.1-mini", "OPENAI_API_KEY"),
        ("anthropic:claude-sonnet-4-6", "ANTHROPIC_API_KEY"),
    ],
)
def test_a_missing_provider_key_stops_agent_serve_at_start(
    tmp_path: Path, model: str, variable: str
) -> None:
    port = free_port()
    result = _serve(_env(tmp_path, AGENT_MODEL=model), "--port", str(port))
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith(
        f"agent serve: Model {model!r} needs an API key: set {variable}"
    )
    assert "Traceback" not in result.stderr


def test_an_unknown_provider_stops_agent_serve_naming_the_known_ones(tmp_path: Path) -> None:
    unknown = _serve(_env(tmp_path, AGENT_MODEL="gemini:flash"), "--port", str(free_port()))
    assert unknown.returncode == 1
    assert "Unknown model provider 'gemini'" in unknown.stderr
    assert "demo" in unknown.stderr  # among the providers it lists


def test_a_busy_port_is_said_before_any_browser_starts(tmp_path: Path) -> None:
    marker = uuid.uuid4().hex
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = _env(tmp_path, AGENT_WARM_BROWSERS="2", AGENT_START_MARKER=marker)
        result = _serve(env, "--port", str(port))
    assert result.returncode == EXIT_PORT_IN_USE, result.stderr
    said = result.stderr
    assert said.startswith(f"agent serve: port {port} is already in use on 127.0.0.1"), said
    assert "--port N" in said and "AGENT_PORT=N" in said
    assert not re.search(r"Errno|Traceback|Uvicorn", said), said
    assert not processes_with_env("AGENT_START_MARKER", marker)  # no browser was started
