"""Firecrawl's own JavaScript SDK (@mendable/firecrawl-js) against the server.

Its packages are installed on first run into ``tests/server/js/node_modules`` (``npm ci``, from
the lock file); the test is skipped when node or the npm registry is not available.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from agent.messages import Message
from tests.harness import RunningServer, Turns, latest_observation

KETTLE = {"name": "Blue Kettle", "price": 39.5}

JS_DIR = Path(__file__).parent / "js"


@pytest.fixture(scope="module")
def js_sdk() -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed for the JS SDK test")
    if not (JS_DIR / "node_modules" / "@mendable" / "firecrawl-js").is_dir():
        installed = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=JS_DIR,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if installed.returncode != 0:
            pytest.skip(f"could not install @mendable/firecrawl-js: {installed.stderr[-500:]}")
    return JS_DIR


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


def test_js_sdk_actions_json_summary_warning_and_errors(
    js_sdk: Path, server: RunningServer, script: Turns, site: str
) -> None:
    script.add(json.dumps(KETTLE), "A search page that found a kettle.")
    ran = subprocess.run(
        ["node", "scrape_check.mjs", server.url, site],
        cwd=js_sdk,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    report: dict[str, Any] = json.loads(ran.stdout.strip().splitlines()[-1])

    assert "Late result for kettle" in report["markdown"]
    assert report["json"] == KETTLE
    assert report["summary"] == "A search page that found a kettle."
    assert report["usage"]["model"] == "scripted"
    assert report["warning"].startswith("This server does not apply these options")
    assert "location (" in report["warning"]
    assert report["actions"] == {
        "screenshots": ["data:image/png;base64,"],
        "javascriptReturns": [{"type": "string", "value": "Late result for kettle"}],
        "scrapes": [],
        "pdfs": [],
    }
    assert report["afterActions"] == "kettle"
    unknown = report["unknownOption"]
    assert (unknown["status"], unknown["code"]) == (400, "BAD_REQUEST"), unknown
    assert "unknown field 'onlyMainContnet'" in unknown["message"]
    failing = report["failingAction"]
    assert (failing["status"], failing["code"]) == (400, "SCRAPE_ACTION_ERROR"), failing
    assert "actions[1] (click '#absent') failed" in failing["message"]
