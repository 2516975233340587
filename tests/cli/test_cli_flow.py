"""The command line as a user types it: scrape, interact by prompt, interact by code, stop.

The server is started by the CLI itself in the background (no server answers at first); the
model is an OpenAI-compatible endpoint played by the local fake provider.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from evals.provider_server import FakeProviderServer, chat_completion, chat_tool_call
from tests.harness import free_port
from tests.subprocesses import run_agent


@pytest.fixture
def cli_env(tmp_path: Path) -> Iterator[tuple[dict[str, str], FakeProviderServer]]:
    provider = FakeProviderServer().start()
    env = {
        **os.environ,
        "AGENT_SERVER_URL": f"http://127.0.0.1:{free_port()}",
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "AGENT_MODEL": "openai-compatible:fake-model",
        "AGENT_BASE_URL": provider.openai_base_url,
        "AGENT_WARM_BROWSERS": "0",
    }
    yield env, provider
    provider.close()


def agent(
    env: dict[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return run_agent(env, *args, timeout=timeout)


def test_scrape_interact_code_stop_flow(cli_env, site):
    env, provider = cli_env
    server_pid = None
    try:
        scraped = agent(env, "scrape", f"{site}/page2.html")
        assert scraped.returncode == 0, scraped.stderr
        assert "started a local server" in scraped.stderr
        server_pid = int(re.search(r"pid (\d+)", scraped.stderr).group(1))
        assert "secret number is 4217" in scraped.stdout
        assert re.search(r"scrape id: [0-9a-f-]{36}", scraped.stderr)

        provider.enqueue(
            chat_completion(tool_calls=[chat_tool_call("call_1", "get_text", {})]),
            chat_completion(
                tool_calls=[chat_tool_call("call_2", "done", {"answer": "The number is 4217."})]
            ),
        )
        prompted = agent(env, "interact", "What", "is", "the", "secret", "number?")
        assert prompted.returncode == 0, prompted.stderr
        assert prompted.stdout.strip() == "The number is 4217."
        assert "live view: http" in prompted.stderr

        coded = agent(env, "interact", "--python", "-c", "print('hi')\nawait page.title()")
        assert coded.returncode == 0, coded.stderr
        assert coded.stdout.splitlines() == ["hi", "Second page"]

        failing = agent(env, "interact", "--python", "-c", "raise ValueError('nope')")
        assert failing.returncode == 1
        assert "ValueError: nope" in failing.stderr

        stopped = agent(env, "interact", "stop")
        assert stopped.returncode == 0, stopped.stderr
        assert stopped.stdout.startswith("stopped ")

        after = agent(env, "interact", "-c", "1")
        assert after.returncode == 1
        assert "agent scrape URL" in after.stderr  # the id was forgotten on stop
    finally:
        if server_pid:
            os.killpg(server_pid, signal.SIGTERM)


def test_interact_without_a_scrape_says_what_to_do(cli_env):
    env, _ = cli_env
    result = agent(env, "interact", "hello")
    assert result.returncode == 1
    assert "run `agent scrape URL` first" in result.stderr


def test_help_everywhere():
    env = dict(os.environ)
    for command in ([], ["scrape"], ["interact"], ["serve"], ["mcp"], ["browser"]):
        result = agent(env, *command, "--help", timeout=60)
        assert result.returncode == 0, (command, result.stderr)
        assert "usage: agent" in result.stdout


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--compare", "missing-old.json", "missing-new.json"], "Cannot read eval results"),
        (["--model", "gemini:flash"], "use a model id starting with openai: or anthropic:"),
    ],
    ids=["unreadable-results", "unsupported-model"],
)
def test_eval_configuration_error_exits_1_with_the_reason(
    tmp_path: Path, args: list[str], reason: str
) -> None:
    """A configuration error is a failed command (1), not a usage error (2), as for every
    command: the shared handler prints it as ``agent eval: ...``."""
    result = agent(dict(os.environ), "eval", "--report", str(tmp_path), *args, timeout=60)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("agent eval: "), result.stderr
    assert reason in result.stderr
    assert "Traceback" not in result.stderr


def test_eval_usage_error_exits_2() -> None:
    result = agent(dict(os.environ), "eval", "--jobs", "many", timeout=60)
    assert result.returncode == 2
    assert "usage: agent eval" in result.stderr


def _offline_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """This shell's environment without a model, a state folder of its own and a free port."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("AGENT_MODEL", "AGENT_BASE_URL", "AGENT_CONFIG", "AGENT_STATE_DIR")
    }
    return {
        **env,
        "AGENT_SERVER_URL": f"http://127.0.0.1:{free_port()}",
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "AGENT_PROFILES_DIR": str(tmp_path / "profiles"),
        "AGENT_WARM_BROWSERS": "0",
        **extra,
    }


def _stop_servers(*outputs: str) -> None:
    for pid in {int(p) for said in outputs for p in re.findall(r"\(pid (\d+)", said)}:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)


def test_the_demo_model_clicks_fills_and_answers_through_agent_interact(
    tmp_path: Path, site: str
) -> None:
    env = _offline_env(tmp_path, AGENT_MODEL="demo")
    scraped = agent(env, "scrape", f"{site}/form.html")
    try:
        assert scraped.returncode == 0, scraped.stderr
        acted = agent(
            env,
            "interact",
            'fill Name with Ada, check "I agree", then click Submit, then what does the page say',
        )
        assert acted.returncode == 0, acted.stderr
        said = acted.stdout.strip()
        assert said.startswith("[offline demo model] Filled @e"), said
        assert "Checked @e" in said and "Clicked @e" in said
        assert "Submitted Ada / m / agreed" in said  # read from the page after the click

        heading = agent(env, "interact", "what is the main heading?")
        assert heading.stdout.strip() == '[offline demo model] The main heading is "Sign up".'

        unknown = agent(env, "interact", "book me a flight to Paris")
        assert unknown.returncode == 0
        assert unknown.stdout.startswith("[offline demo model] I am the offline demo model")
        assert 'I did not understand: "book me a flight to Paris"' in unknown.stdout
        assert "fill NAME with TEXT" in unknown.stdout
    finally:
        _stop_servers(scraped.stderr)


def test_a_background_server_with_other_settings_is_named_then_restarted_by_scrape(
    tmp_path: Path, site: str
) -> None:
    """The server ``agent scrape`` started keeps the settings it got; a shell whose settings
    differ is told which and how to restart it, and ``agent scrape`` restarts it itself. The
    state folder is the project's own (AGENT_STATE_DIR) and holds no setting's value."""
    state = tmp_path / "project-state"
    env = _offline_env(tmp_path, AGENT_STATE_DIR=str(state), OPENAI_API_KEY="sk-not-a-real-key")
    url = f"{site}/page2.html"
    outputs: list[str] = []
    try:
        first = agent(env, "scrape", url)
        outputs.append(first.stderr)
        assert first.returncode == 0, first.stderr
        old_pid = int(re.search(r"\(pid (\d+)", first.stderr).group(1))
        assert (state / "server.json").is_file() and (state / "last-scrape.json").is_file()
        assert not (tmp_path / "config" / "browser-agent").exists()

        demo = {**env, "AGENT_MODEL": "demo"}
        refused = agent(demo, "interact", "what is the title")
        assert refused.returncode == 1
        assert f"(pid {old_pid}, started by this command line) runs with other settings" in (
            refused.stderr
        )
        assert "AGENT_MODEL differ" in refused.stderr
        assert f"`agent scrape {url}`" in refused.stderr

        again = agent(demo, "scrape", url)
        outputs.append(again.stderr)
        assert again.returncode == 0, again.stderr
        assert f"restarting the local server (pid {old_pid})" in again.stderr
        assert "AGENT_MODEL differ" in again.stderr
        new_pid = int(re.findall(r"started a local server .*?\(pid (\d+)", again.stderr)[-1])
        assert new_pid != old_pid and not Path(f"/proc/{old_pid}").exists()

        answered = agent(demo, "interact", "what is the title")
        assert answered.returncode == 0, answered.stderr
        assert answered.stdout.strip() == '[offline demo model] The page\'s title is "Second page".'
        record = (state / "server.json").read_text()
        assert "sk-not-a-real-key" not in record and '"demo"' not in record
        assert oct((state / "server.json").stat().st_mode & 0o777) == "0o600"
    finally:
        _stop_servers(*outputs)


def test_agent_browser_outside_a_session_points_at_agent_interact_bash() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_SESSION_")}
    result = agent(env, "browser", "snapshot", "-i", timeout=60)
    assert result.returncode == 3
    assert "agent interact --bash -c 'agent browser snapshot -i'" in result.stderr
    assert "run_code" not in result.stderr  # not an internal function
