"""Firecrawl's own JavaScript SDK (@mendable/firecrawl-js) against the server.

Its packages are installed on first run into ``tests/server/js/node_modules`` (``npm ci``, from
the lock file); the test is skipped when node or the npm registry is not available.

``sdk_check.mjs`` scrapes, interacts and stops; ``scrape_check.mjs`` holds one case per scrape
option the firecrawl-py tests cover (actions, json, summary, warnings, errors), each asserting on
what firecrawl-js returns, run here one case per test.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from agent.messages import Message
from tests.harness import RunningServer, Turns, latest_observation
from tests.subprocesses import npm_packages

JS_DIR = Path(__file__).parent / "js"


@pytest.fixture(scope="module")
def js_sdk() -> Path:
    return npm_packages(JS_DIR, "@mendable/firecrawl-js", "the JS SDK (@mendable/firecrawl-js)")


def _report_count(messages: Sequence[Message]) -> str:
    found = re.search(r"Count: (\d+)", latest_observation(messages))
    return f"Count is {found.group(1) if found else '?'}"


def test_js_sdk_scrape_interact_stop(
    js_sdk: Path, server: RunningServer, script: Turns, site: str
) -> None:
    script.add(_report_count)
    ran = subprocess.run(
        ["node", "sdk_check.mjs", server.url, f"{site}/index.html"],
        cwd=js_sdk,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    report: dict[str, Any] = json.loads(ran.stdout.strip().splitlines()[-1])

    assert report["title"] == "Server Test Page"
    assert report["statusCode"] == 200
    assert "# Main heading" in report["markdown"]
    assert f"{site}/other.html" in report["links"]
    assert report["code"] == {"success": True, "result": "Count: 1", "exitCode": 0}
    assert report["prompt"]["success"] is True
    assert report["prompt"]["output"] == "Count is 1"
    assert report["prompt"]["liveViewUrl"].startswith(f"{server.url}/v2/live/")
    assert report["stop"]["success"] is True and report["stop"]["status"] == "stopped"
    assert report["afterStop"]["status"] == 404, report["afterStop"]


SCRAPE_CASES = (
    "every-action-type-then-interact-goes-on",
    "json-with-schema-and-prompt-summary-after-actions",
    "json-from-a-prompt-alone-and-summary",
    "non-conforming-json-is-a-422",
    "unknown-option-is-a-400",
    "failing-action-is-a-400",
)


def _node(js_sdk: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["node", *args], cwd=js_sdk, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def scrape_cases(js_sdk: Path) -> dict[str, list[str]]:
    """Each case in scrape_check.mjs with the scripted model's answers it needs, in order."""
    listed = _node(js_sdk, "scrape_check.mjs", "--list")
    assert listed.returncode == 0, listed.stderr
    cases: dict[str, list[str]] = json.loads(listed.stdout)
    return cases


def test_js_scrape_cases_are_all_run(scrape_cases: dict[str, list[str]]) -> None:
    assert sorted(scrape_cases) == sorted(SCRAPE_CASES)


@pytest.mark.parametrize("case", SCRAPE_CASES)
def test_js_sdk_scrape_options(
    js_sdk: Path,
    scrape_cases: dict[str, list[str]],
    server: RunningServer,
    script: Turns,
    site: str,
    case: str,
) -> None:
    """One case of scrape_check.mjs, which asserts on what firecrawl-js returns; a failed
    assertion there exits non-zero with its message on stderr."""
    answers = scrape_cases[case]
    sessions, asked = len(server.registry), script.asked
    script.add(*answers)
    ran = _node(js_sdk, "scrape_check.mjs", server.url, site, case)
    assert ran.returncode == 0, f"firecrawl-js, case {case}:\n{ran.stderr}{ran.stdout}"
    assert ran.stdout.strip().splitlines()[-1] == f"ok {case}", ran.stdout
    assert script.asked - asked == len(answers), "the model was not asked as often as scripted"
    assert len(server.registry) == sessions, "the case left a session open"
