"""Without agent-browser's npm package: its tests are skipped with the reason on a developer's
machine and fail in CI; bash code that calls it is told on stderr that it is not installed and
how to install it, instead of bash's bare "command not found"."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.browser.session import BrowserSession
from agent.config import Settings
from agent.executors import agent_browser
from agent.service.interact import run_code_call
from tests.harness import require_agent_browser


@pytest.fixture
def not_installed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """agent-browser's package looked for in an empty npm folder."""
    monkeypatch.setattr(agent_browser, "NODE_DIR", tmp_path)


@pytest.mark.parametrize("ci", ["true", "1", "yes"])
def test_in_ci_a_missing_agent_browser_fails_the_test(
    not_installed: None, monkeypatch: pytest.MonkeyPatch, ci: str
) -> None:
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.fail.Exception) as failed:
        require_agent_browser()
    assert str(failed.value).startswith("CI must test agent-browser: agent-browser is not ")
    assert "npm ci --prefix" in str(failed.value)


@pytest.mark.parametrize("ci", [None, "", "false", "0"])
def test_elsewhere_it_skips_with_the_reason(
    not_installed: None, monkeypatch: pytest.MonkeyPatch, ci: str | None
) -> None:
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.skip.Exception) as skipped:
        require_agent_browser()
    reason = str(skipped.value)
    assert reason.startswith("agent-browser is not installed") and "npm ci --prefix" in reason
    assert reason.endswith("(bash .ci/setup installs it)")


def test_installed_it_is_the_binary(monkeypatch: pytest.MonkeyPatch, agent_browser: Path) -> None:
    monkeypatch.setenv("CI", "true")
    assert require_agent_browser() == agent_browser and agent_browser.is_file()


@pytest.mark.parametrize("sandbox", ["bwrap", None], ids=["sandboxed", "direct"])
async def test_bash_code_is_told_it_is_not_installed_and_how_to_install_it(
    not_installed: None, sandbox: str | None
) -> None:
    session = await BrowserSession.start()
    try:
        outcome = await run_code_call(
            session,
            "agent-browser snapshot -i && echo not reached",
            language="bash",
            timeout_s=30,
            settings=Settings(sandbox=sandbox),
        )
        assert outcome.exit_code == 127 and not outcome.success, outcome
        assert outcome.stderr.startswith("agent-browser: not installed on this server"), outcome
        assert "npm ci --prefix agent/executors/node" in outcome.stderr
        assert "command not found" not in outcome.stderr and "not reached" not in outcome.stdout
        # The interact call's error (what an SDK raises with) says it too.
        assert outcome.error is not None and "not installed on this server" in outcome.error
        # The rest of bash, `agent browser` included, works as before.
        title = await run_code_call(
            session,
            "agent browser eval 'document.title || \"blank\"'",
            language="bash",
            timeout_s=30,
            settings=Settings(sandbox=sandbox),
        )
        assert title.success, title
    finally:
        await session.close()
