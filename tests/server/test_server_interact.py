"""Interact by prompt (scripted model) and by code, chained calls, and stop, via the SDK."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from agent.browser import grammar
from agent.errors import ModelRateLimitError
from agent.messages import Message
from agent.models import tool_call
from tests.harness import RunningServer, Turns, assert_error, latest_observation

_HAS_EXECUTORS = importlib.util.find_spec("agent.executors") is not None and hasattr(
    importlib.import_module("agent.executors"), "run_code"
)
needs_executors = pytest.mark.skipif(
    not _HAS_EXECUTORS, reason="agent.executors.run_code is not there yet (agent/executors/)"
)


def _click(label: str) -> Any:
    def turn(messages: Sequence[Message]) -> Any:
        text = latest_observation(messages)
        found = grammar.find_ref(text, "button", label)
        assert found, f"no {label} button in the snapshot:\n{text}"
        return [tool_call("click", ref=found)]

    return turn


def _report_count(messages: Sequence[Message]) -> str:
    found = re.search(r"Count: (\d+)", latest_observation(messages))
    return f"The count is {found.group(1) if found else 'missing'}."


def test_prompts_chain_on_one_page(firecrawl: Any, script: Turns, scraped: str) -> None:
    script.add(_click("Increment"), "Clicked Increment once.")
    first = firecrawl.interact(scraped, prompt="Click the Increment button.")
    assert first.success is True
    assert first.output == "Clicked Increment once."
    assert "Count: 1" in first.result  # the snapshot the model saw last
    assert first.exit_code == 0 and first.killed is False
    assert first.cdp_url.startswith("ws://127.0.0.1:")
    assert f"/v2/live/{scraped}?token=" in first.live_view_url
    assert first.interactive_live_view_url != first.live_view_url

    script.add(_click("Increment"), _report_count)
    second = firecrawl.interact(scraped, prompt="Click Increment again and read the count.")
    assert second.output == "The count is 2."  # the page kept its state between calls


def test_model_failure_is_503_with_cause(
    server: RunningServer, script: Turns, scraped: str
) -> None:
    def fail(messages: Sequence[Message]) -> Any:
        raise ModelRateLimitError("429 from the provider after 3 retries", provider="openai")

    script.add(fail)
    assert_error(server.interact(scraped, prompt="Do it"), 503, "429 from the provider")


def test_stop_right_after_scrape_then_404(firecrawl: Any, site: str) -> None:
    from firecrawl.v2.utils.error_handler import FirecrawlError

    doc = firecrawl.scrape(f"{site}/index.html", formats=["links"])
    stopped = firecrawl.stop_interaction(doc.metadata.scrape_id)
    assert stopped.success is True
    assert stopped.status == "stopped"
    assert stopped.session_duration_ms >= 0
    with pytest.raises(FirecrawlError) as caught:
        firecrawl.interact(doc.metadata.scrape_id, prompt="anything")
    assert caught.value.status_code == 404
    assert "stopped by the client" in str(caught.value)
    with pytest.raises(FirecrawlError) as again:
        firecrawl.stop_interaction(doc.metadata.scrape_id)
    assert again.value.status_code == 404


@pytest.fixture(scope="module")
def code_session(server: RunningServer, site: str) -> Any:
    """One session shared by the code tests."""
    scrape_id = server.scrape_id(f"{site}/index.html")
    yield scrape_id
    server.stop_session(scrape_id)


@needs_executors
def test_code_in_each_language(firecrawl: Any, code_session: str) -> None:
    scraped = code_session
    before = firecrawl.interact(scraped, code="await page.textContent('#count')").result
    count = int(before.split()[-1])
    node = firecrawl.interact(
        scraped, code="await page.click('#inc'); await page.textContent('#count')"
    )
    assert node.success is True, node
    assert node.result == f"Count: {count + 1}"
    assert node.exit_code == 0 and node.killed is False

    python = firecrawl.interact(
        scraped,
        code="print('hello from python')\nawait page.text_content('#count')",
        language="python",
    )
    assert python.stdout.strip() == "hello from python"
    assert python.result == f"Count: {count + 1}"  # state carried from the node call

    bash = firecrawl.interact(scraped, code="echo from-bash", language="bash")
    assert bash.stdout.strip() == "from-bash"


@needs_executors
def test_failing_and_killed_code(server: RunningServer, code_session: str) -> None:
    failed = server.interact(code_session, code="exit 3", language="bash").json()
    assert failed["success"] is False and failed["exitCode"] == 3
    assert "error" in failed
    killed = server.interact(code_session, code="sleep 30", language="bash", timeout=1).json()
    assert killed["success"] is False and killed["killed"] is True
    for field in ("cdpUrl", "liveViewUrl", "interactiveLiveViewUrl", "output", "stdout"):
        assert field in killed


@needs_executors
@pytest.mark.parametrize(
    ("language", "code", "exit_code", "summary"),
    [
        ("node", 'throw new Error("boom")', 1, "Error: boom"),
        ("node", "null.x", 1, "TypeError: Cannot read properties of null (reading 'x')"),
        (
            "node",
            "await page.click('#missing', {timeout: 300})",
            1,
            "TimeoutError: page.click: Timeout 300ms exceeded.",
        ),
        ("node", "let = ;", 1, "SyntaxError: Unexpected token (1:6)"),
        ("python", "raise ValueError('nope')", 1, "ValueError: nope"),
        (
            "python",
            "await page.click('#missing', timeout=300)",
            1,
            "TimeoutError: Page.click: Timeout 300ms exceeded.",
        ),
        ("python", "def f(:\n  pass", 1, "SyntaxError: invalid syntax (line 1)"),
        ("bash", "echo working; ls /no-such-dir", 2, "ls: cannot access '/no-such-dir'"),
        ("bash", "echo a note >&2; exit 3", 3, "a note"),
        ("bash", "false", 1, "nothing on stderr"),
    ],
    ids=lambda value: value if isinstance(value, str) and len(value) < 10 else None,
)
def test_a_failure_is_summarised_by_its_error_not_a_stack_line(
    server: RunningServer, code_session: str, language: str, code: str, exit_code: int, summary: str
) -> None:
    """``error`` names the error's type and message (python, node), or the last meaningful line
    of stderr (bash), after the exit code; never a stack frame like ``at code.js:1:93``."""
    reply = server.interact(code_session, code=code, language=language).json()
    assert reply["success"] is False and reply["exitCode"] == exit_code, reply
    assert reply["error"].startswith(f"The code failed with exit code {exit_code}: {summary}"), (
        reply["error"]
    )
    assert " at code.js" not in reply["error"] and 'File "' not in reply["error"]


@needs_executors
def test_calls_on_one_session_are_serialised(server: RunningServer, code_session: str) -> None:
    code = "date +%s.%N; sleep 1; date +%s.%N"

    def call() -> tuple[float, float]:
        reply = server.interact(code_session, code=code, language="bash").json()
        start, end = (float(line) for line in reply["stdout"].split())
        return start, end

    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(lambda _: call(), range(2))
    earlier, later = sorted([first, second])
    assert earlier[1] <= later[0], "the two calls overlapped"


def test_cdp_url_reaches_the_session_browser(
    firecrawl: Any, script: Turns, scraped: str, site: str
) -> None:
    from playwright.sync_api import sync_playwright

    script.add("ok")
    reply = firecrawl.interact(scraped, prompt="Nothing.")
    with sync_playwright() as playwright:
        browser = playwright.chromium.connect_over_cdp(reply.cdp_url)
        urls = [page.url for context in browser.contexts for page in context.pages]
        # Leaving the with-block disconnects; the session's browser keeps running.
    assert f"{site}/index.html" in urls
    assert firecrawl.stop_interaction(scraped).success is True
