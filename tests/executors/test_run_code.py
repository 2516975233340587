"""run_code in python, node and bash on a real browser session: output, results, errors,
timeouts, output caps, state shared with the tools, isolation between sessions, and cleanup."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from pathlib import Path

import pytest
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

import agent.executors
from agent import procfs
from agent.browser.session import BrowserSession
from agent.executors import (
    KILLED_EXIT_CODE,
    MAX_OUTPUT_BYTES,
    executors_for,
    run_code,
    warm_up,
)
from agent.executors.run import child_environment
from tools import ToolContext, default_toolbox

toolbox = default_toolbox()


def test_exported_members() -> None:
    names = agent.executors.__all__
    assert len(names) == len(set(names))
    assert [n for n in names if not hasattr(agent.executors, n)] == []


# -- each language: stdout, result, exit code ---------------------------------------------------


@pytest.mark.parametrize(
    ("language", "code", "stdout", "result"),
    [
        ("python", "print('hello')\nawait page.title()", "hello\n", "Orders"),
        ("python", "x = 2\n{'sum': x + 1, 'ok': True}", "", '{"sum": 3, "ok": true}'),
        ("python", "print('no value')\nNone", "no value\n", ""),
        ("python", "await page.evaluate('1 + 2')", "", "3"),
        ("node", "console.log('hello');\nawait page.title()", "hello\n", "Orders"),
        ("node", "const x = 2;\n({sum: x + 1, ok: true})", "", '{"sum":3,"ok":true}'),
        ("node", "// the last statement is a declaration\nconst y = 1;", "", ""),
        ("node", "'a;b' + `c${1}` // trailing comment", "", "a;bc1"),
        (
            "python",
            "import sys\nprint('héllo ✓', end='')\nprint('warn', file=sys.stderr)",
            "héllo ✓",
            "",
        ),
        (
            "node",
            "process.stdout.write('héllo ✓'); console.error('warn'); undefined",
            "héllo ✓",
            "",
        ),
        ("bash", "echo hello; echo err >&2", "hello\n", ""),
    ],
)
async def test_stdout_and_result(session, app, language, code, stdout, result):
    outcome = await run_code(session, code, language, timeout_s=20)
    assert outcome.stdout == stdout, outcome
    assert outcome.result == result, outcome
    assert outcome.exit_code == 0 and outcome.success and not outcome.killed


async def test_calls_on_one_session_run_one_after_another(session, app):
    code = {
        "python": "import asyncio\nawait asyncio.sleep(0.2)\nprint('{n}')",
        "node": "await new Promise(r => setTimeout(r, 200)); console.log('{n}')",
    }
    calls = [run_code(session, code[lang].format(n=n), lang) for n in range(3) for lang in code]  # type: ignore[arg-type]
    outcomes = await asyncio.gather(*calls)
    assert [o.stdout for o in outcomes] == [f"{n}\n" for n in range(3) for _ in code]


@pytest.mark.parametrize(
    ("language", "code", "exit_code"),
    [
        ("python", "import sys\nprint('bye')\nsys.exit(4)", 4),
        ("node", "console.log('bye'); process.exitCode = 4; 1", 4),
        ("bash", "echo bye; exit 4", 4),
    ],
)
async def test_exit_codes(session, app, language, code, exit_code):
    outcome = await run_code(session, code, language)
    assert outcome.exit_code == exit_code and outcome.stdout == "bye\n" and not outcome.success


@pytest.mark.parametrize(
    ("language", "code", "message"),
    [
        ("python", "print('ok'\nx = ", "SyntaxError"),
        ("node", "const = 5;", "SyntaxError"),
        ("bash", "if then fi (", "syntax error"),
    ],
)
async def test_syntax_errors(session, app, language, code, message):
    outcome = await run_code(session, code, language)
    assert outcome.exit_code != 0 and message in outcome.stderr, outcome


@pytest.mark.parametrize(
    ("language", "code", "expected"),
    [
        ("python", "print('before')\ndef f():\n    raise ValueError('boom')\nf()", "line 3, in f"),
        ("node", "console.log('before');\nthrow new Error('boom');", "Error: boom"),
        ("python", "print('before')\nawait page.click('#nope', timeout=200)", "TimeoutError"),
    ],
)
async def test_exceptions(session, app, language, code, expected):
    outcome = await run_code(session, code, language)
    assert outcome.exit_code == 1 and outcome.stdout == "before\n", outcome
    assert expected in outcome.stderr
    if "boom" in code:
        assert "boom" in outcome.stderr
    assert "python_worker.py" not in outcome.stderr and "worker.js" not in outcome.stderr


async def test_worker_recovers_after_the_code_ends_it(session, app):
    outcome = await run_code(session, "import os\nprint('x', flush=True)\nos._exit(3)", "python")
    assert outcome.exit_code == 3 and outcome.stdout == "x\n" and not outcome.killed
    outcome = await run_code(session, "process.exit(5)", "node")
    assert outcome.exit_code == 5
    assert (await run_code(session, "await page.title()", "python")).result == "Orders"
    assert (await run_code(session, "await page.title()", "node")).result == "Orders"


# -- timeouts ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "code"),
    [
        ("python", "print('started', flush=True)\nwhile True:\n    pass"),
        ("node", "console.log('started');\nwhile (true) {}"),
        ("bash", "echo started; sleep 30"),
        ("node", "console.log('started');\nawait page.evaluate('while (true) {}')"),
    ],
    ids=["python", "node", "bash", "page-js"],
)
async def test_infinite_loop_is_killed_and_the_session_still_works(session, app, language, code):
    started = time.monotonic()
    outcome = await run_code(session, code, language, timeout_s=1)
    assert time.monotonic() - started < 8
    assert outcome.killed and outcome.exit_code == KILLED_EXIT_CODE and not outcome.success
    assert outcome.stdout == "started\n" and "timeout" in outcome.stderr
    # The browser, the tools and a fresh worker all still work.
    snapshot = await toolbox.call(ToolContext(session), "snapshot", {"mode": "interactive"})
    assert not snapshot.is_error and 'button "Save"' in snapshot.content
    again = await run_code(
        session, "await page.title()" if language != "bash" else "echo ok", language
    )
    assert again.success and (again.result == "Orders" or again.stdout == "ok\n"), again


@pytest.mark.parametrize("timeout_s", [0.5, 301])
async def test_timeout_out_of_range_is_refused(session, timeout_s):
    with pytest.raises(ValueError, match="between 1 and 300"):
        await run_code(session, "1", "python", timeout_s=timeout_s)
    with pytest.raises(ValueError, match="language"):
        await run_code(session, "1", "ruby", timeout_s=5)  # type: ignore[arg-type]


# -- output caps ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "code"),
    [
        (
            "python",
            "import sys\nsys.stdout.write('x' * (2 * 1024 * 1024))\n'x' * (2 * 1024 * 1024)",
        ),
        ("node", "process.stdout.write('x'.repeat(2 * 1024 * 1024));\n'x'.repeat(2 * 1024 * 1024)"),
        ("bash", "head -c 2097152 /dev/zero | tr '\\0' x; echo done >&2"),
    ],
)
async def test_output_is_capped(session, app, language, code):
    outcome = await run_code(session, code, language, timeout_s=20)
    assert outcome.success and outcome.truncated, outcome.stderr
    assert len(outcome.stdout) == MAX_OUTPUT_BYTES and set(outcome.stdout) == {"x"}
    if language != "bash":
        assert len(outcome.result) == MAX_OUTPUT_BYTES
    small = await run_code(session, "print(1)" if language == "python" else "echo 1", "bash")
    assert not small.truncated


# -- state shared with the tools -----------------------------------------------------------------


async def test_code_fills_a_field_and_a_tool_reads_it(session, app):
    await run_code(session, "await page.fill('#name', 'Ada')", "python")
    snapshot = await session.snapshot()
    assert 'textbox "Name" = "Ada"' in snapshot.text
    await run_code(session, "await page.fill('#name', 'Grace')", "node")
    out = await toolbox.call(ToolContext(session), "snapshot", {})
    assert 'textbox "Name" = "Grace"' in out.content


async def test_a_tool_clicks_and_code_sees_it(session, app):
    snapshot = await session.snapshot(mode="interactive")
    ref = next(line.split()[0] for line in snapshot.text.splitlines() if '"Count"' in line)
    outcome = await toolbox.call(ToolContext(session), "click", {"ref": ref})
    assert not outcome.is_error, outcome.content
    py = await run_code(session, "await page.inner_text('#counter')", "python")
    js = await run_code(session, "await page.innerText('#counter')", "node")
    assert py.result == js.result == "Clicked 1"


async def test_page_follows_the_sessions_current_tab(session, app, site):
    popup = await session.new_tab()
    try:
        await session.goto(f"{site}/page2.html")
        for language in ("python", "node"):
            outcome = await run_code(session, "await page.title()", language)  # type: ignore[arg-type]
            assert outcome.result == "Second", outcome
    finally:
        await popup.close()
    assert session.page.url.endswith("/app.html")
    assert (await run_code(session, "page.url", "python")).result.endswith("/app.html")


async def test_code_that_navigates_leaves_the_session_on_the_new_page(session, app, site):
    code = f"await page.goto('{site}/page2.html')\nawait page.title()"
    outcome = await run_code(session, code, "python")
    assert outcome.result == "Second", outcome
    assert session.page.url.endswith("/page2.html")
    assert "Second page" in (await session.snapshot()).text


# -- isolation -----------------------------------------------------------------------------------


async def test_one_sessions_code_cannot_reach_another_sessions_page(session, app, site):
    other = await BrowserSession.start()
    try:
        await other.goto(f"{site}/page2.html?secret=other-session")
        listing = {
            "python": "[p.url for c in page.context.browser.contexts for p in c.pages]",
            "node": "page.context().browser().contexts().flatMap(c => c.pages()).map(p => p.url())",
            "bash": "env; agent browser tab list; agent browser get url",
        }
        for language, code in listing.items():
            outcome = await run_code(session, code, language)  # type: ignore[arg-type]
            assert outcome.success, outcome
            seen = outcome.result + outcome.stdout
            assert "app.html" in seen
            assert "other-session" not in seen and other.cdp_url not in seen, seen
        env = await run_code(session, "import os\ndict(os.environ)", "python")
        assert "AGENT_CDP_URL" in env.result and other.cdp_url not in env.result
        assert other.page.url.endswith("secret=other-session")
    finally:
        await other.close()


def test_child_environment_drops_credentials_and_other_sessions() -> None:
    parent = {
        "PATH": "/usr/bin",
        "HOME": "/home/u",
        "OPENAI_API_KEY": "sk-secret",
        "ANTHROPIC_API_KEY": "sk-ant-secret",
        "AGENT_API_KEYS": "k1,k2",
        "GITHUB_TOKEN": "ghp",
        "AWS_ACCESS_KEY_ID": "AKIA",
        "DB_PASSWORD": "pw",
        "AGENT_CDP_URL": "http://127.0.0.1:1/other-session",
        "AGENT_SESSION_TOKEN": "other",
        "AGENT_MODEL": "openai:gpt-4.1-mini",
    }
    env = child_environment(parent, cdp_url="http://127.0.0.1:2", bin_dir=Path("/tmp/shim"))
    assert env == {
        "PATH": "/tmp/shim:/usr/bin",
        "HOME": "/home/u",
        "AGENT_MODEL": "openai:gpt-4.1-mini",
        "AGENT_CDP_URL": "http://127.0.0.1:2",
    }


async def test_code_does_not_see_the_servers_model_key(session, app, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-should-not-leak")
    # bash starts a fresh process per call, so it sees the environment as it is now.
    outcome = await run_code(session, "env", "bash")
    assert outcome.success, outcome
    assert "AGENT_CDP_URL=" in outcome.stdout
    assert "sk-should-not-leak" not in outcome.stdout


async def test_code_runs_at_once_after_a_navigation_timed_out(site):
    # A site that accepts connections and never answers: the navigation stays pending until
    # someone stops it, and while it is pending no new CDP client (a fresh worker) can attach.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    fresh = await BrowserSession.start(navigation_timeout_s=1.5)
    try:
        await fresh.goto(f"{site}/app.html")
        with pytest.raises(PlaywrightTimeoutError):
            await fresh.goto(f"http://127.0.0.1:{silent.getsockname()[1]}/")
        started = time.monotonic()
        outcome = await run_code(fresh, "await page.title()", "python", timeout_s=60)
        elapsed = time.monotonic() - started
        assert outcome.success and outcome.result == "Orders", outcome
        # A cold worker starts in about a second; a blocked one waited out the navigation (30 s).
        assert elapsed < 20, f"the first code call took {elapsed:.1f} s"
    finally:
        await fresh.close()
        silent.close()


async def test_browser_access_ends_with_the_run(session, app):
    # A background job that outlives its script must not act on the session afterwards.
    state = executors_for(session)
    async with state.browser_access() as (_, token):
        pass
    outcome = await run_code(session, f"AGENT_SESSION_TOKEN={token} agent browser get url", "bash")
    assert outcome.exit_code == 1 and "not allowed" in outcome.stderr


# -- speed and cleanup ---------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["python", "node"])
async def test_warm_calls_reuse_one_worker(session, app, language):
    """What makes a warm call cheap: it runs in the worker already started, not a new process.
    (Its speed is measured by ``python -m evals.bench_executors``, not timed here.)"""
    await warm_up(session, language)
    own_pid = {"python": "import os\nos.getpid()", "node": "process.pid"}[language]
    pids = set()
    for _ in range(5):
        outcome = await run_code(session, own_pid, language)
        assert outcome.exit_code == 0 and str(outcome.result).isdigit(), outcome
        pids.add(outcome.result)
        assert (await run_code(session, "await page.title()", language)).result == "Orders"
    assert len(pids) == 1, pids


def _command(pid: int) -> str:
    stat = procfs.stat(pid)
    return stat.name if stat else ""


def _descendants(root: int) -> set[int]:
    """Live (not zombie) processes below ``root``."""
    parents = {pid: s.ppid for pid, s in procfs.processes().items() if not s.zombie}
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


async def test_closing_the_session_kills_its_workers(site):
    own = await BrowserSession.start()
    await own.goto(f"{site}/app.html")
    before = _descendants(os.getpid())  # the browsers, the Playwright driver
    for language in ("python", "node", "bash"):
        outcome = await run_code(own, "echo hi" if language == "bash" else "1", language)  # type: ignore[arg-type]
        assert outcome.success, outcome
    state = executors_for(own)
    assert len(state.workers) == 2 and all(w.alive for w in state.workers.values())
    # The workers (and their sandbox); another test's browser may start a renderer meanwhile.
    started = {pid for pid in _descendants(os.getpid()) - before if _command(pid) != "chromium"}
    assert started
    root = state.root
    assert root.exists() and (root / "rpc.sock").exists()
    await own.close()
    # close() has waited for the workers: nothing of what they started is left.
    assert not started & _descendants(os.getpid())
    assert not root.exists()
