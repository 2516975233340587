"""The code box wherever the server's Python lives, checked at start, and its failures told.

A server run from a virtualenv under ``/tmp`` (as many people and CI images make them) runs
python, node and bash code: the box binds the interpreter after mounting its own ``/tmp``. A box
that cannot run a language stops ``agent serve`` at start with the box's own words; one that
fails later is the server's 503, with its reason, never the code's exit 1.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agent.executors import executors_for
from agent.server import ServerSettings
from tests.harness import RunningServer, assert_error, scrape_id_of
from tests.subprocesses import agent_serve

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap")


def _site_packages() -> str:
    """Where this interpreter's packages (Playwright, FastAPI, ...) are installed."""
    import playwright

    return str(Path(playwright.__file__).resolve().parents[1])


def _venv(system_site_packages: bool) -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="agent-venv-", dir="/tmp"))
    command = [sys.executable, "-m", "venv", "--without-pip", str(folder / "venv")]
    if system_site_packages:
        command.insert(3, "--system-site-packages")
    subprocess.run(command, check=True, timeout=120)
    yield folder / "venv"
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def venv_in_tmp() -> Iterator[Path]:
    """A virtualenv under /tmp that sees this interpreter's packages."""
    yield from _venv(system_site_packages=True)


@pytest.fixture(scope="module")
def bare_venv_in_tmp() -> Iterator[Path]:
    """A virtualenv under /tmp with no packages of its own, nor this interpreter's."""
    yield from _venv(system_site_packages=False)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "AGENT_PROFILES_DIR": str(tmp_path / "profiles"),
        "AGENT_WARM_BROWSERS": "0",
        "AGENT_SANDBOX": "bwrap",
        **extra,
    }


def test_a_server_whose_python_is_a_venv_under_tmp_runs_python_node_and_bash(
    venv_in_tmp: Path, tmp_path: Path, site: str
) -> None:
    python = str(venv_in_tmp / "bin" / "python")
    with agent_serve(_env(tmp_path), python=python) as served:
        scraped = httpx.post(
            f"{served.url}/v2/scrape", json={"url": f"{site}/app.html"}, timeout=60
        )
        scrape_id = scrape_id_of(scraped)

        def run(code: str, language: str) -> dict[str, object]:
            reply = httpx.post(
                f"{served.url}/v2/scrape/{scrape_id}/interact",
                json={"code": code, "language": language},
                timeout=120,
            )
            body: dict[str, object] = reply.json()
            assert reply.status_code == 200 and body["success"] is True, body
            return body

        # The box runs the venv's own interpreter, from its place under /tmp, read-only.
        python_said = run("import sys\nprint(sys.prefix)\nawait page.title()", "python")
        assert python_said["stdout"] == f"{venv_in_tmp}\n"
        assert python_said["result"] == "Orders"
        assert run("await page.title()", "node")["result"] == "Orders"
        bash_said = run(
            f"touch {venv_in_tmp}/x 2>/dev/null || echo read-only; echo ok > /tmp/y && cat /tmp/y",
            "bash",
        )
        assert bash_said["stdout"] == "read-only\nok\n"
        assert not (venv_in_tmp / "x").exists()
        httpx.delete(f"{served.url}/v2/scrape/{scrape_id}/interact", timeout=60)


def test_a_box_that_cannot_run_python_stops_agent_serve_with_its_reason(
    bare_venv_in_tmp: Path, tmp_path: Path
) -> None:
    """Playwright is importable by the server through PYTHONPATH only, which the box (with an
    environment of its own) does not get: ``agent serve`` must not start and then fail every
    python call, but stop at once, with the box's own error and what to change."""
    env = _env(tmp_path, PYTHONPATH=_site_packages())
    python = str(bare_venv_in_tmp / "bin" / "python")
    with agent_serve(env, python=python, wait=False) as served:
        deadline = time.monotonic() + 120
        while served.process.poll() is None:
            with contextlib.suppress(httpx.TransportError):
                httpx.get(f"{served.url}/health", timeout=2)
                pytest.fail("agent serve started although its box cannot run python code")
            assert time.monotonic() < deadline, "agent serve neither stopped nor started"
            time.sleep(0.2)
        said = served.output()
    assert served.process.returncode == 1, said
    assert said.startswith("agent serve: The code sandbox cannot run code: python:"), said
    assert "ModuleNotFoundError: No module named 'playwright'" in said
    assert f"{python} -m pip install playwright" in said
    assert "AGENT_SANDBOX=none" in said
    assert "Traceback" not in said.split("ModuleNotFoundError")[0].split("exited 1:")[0]


def test_a_box_failing_later_is_the_servers_503_with_the_boxs_reason(site: str) -> None:
    """A box that starts after the server did and fails answers 503 SANDBOX_UNAVAILABLE with
    why (bubblewrap's own words), not ``success: false, exitCode: 1`` as if the code had failed.
    Here the session's folders go missing, as when a /tmp cleaner removes them."""
    with RunningServer(ServerSettings(warm_browsers=0)) as server:
        scrape_id = scrape_id_of(server.scrape(f"{site}/app.html"))
        session = server.session(scrape_id).browser_session

        async def remove(part: str) -> None:
            state = executors_for(session, server.agent_settings)
            shutil.rmtree(state.root / part)

        server.run(remove("bin"))  # the box's tools folder: bubblewrap cannot bind it
        for language in ("python", "bash"):
            body = assert_error(
                server.interact(scrape_id, code="print(1)", language=language),
                503,
                f"The {language} executor could not start: the sandbox did not start: bwrap: "
                "Can't find source path",
                "server's failure",
            )
            assert body["code"] == "SANDBOX_UNAVAILABLE"
        server.run(remove(""))  # the whole session folder
        assert_error(
            server.interact(scrape_id, code="echo 1", language="bash"),
            503,
            "The bash executor could not start: the sandbox could not start:",
            "No such file or directory",
        )
        server.stop_session(scrape_id)
