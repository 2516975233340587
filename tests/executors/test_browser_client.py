"""``agent browser`` as bash code runs it: the box's quick path (bash's ``/dev/tcp``) and the lean
client (``browser_client.py``) answer every command line exactly as the declared client
(``browser_cli.py``) does, stdout, stderr and exit status, in the box and without one."""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agent.browser import launch_browser
from agent.browser.session import BrowserSession
from agent.config import Settings
from agent.executors import executors_for, run_code
from agent.executors.browser_client import MAGIC, STDIN
from agent.executors.launcher import Layout

# Command lines (as bash words), each run by every client in turn, so none may change the page
# in a way the next client would see differently.
CASES = [
    "get url",
    "get title",
    "snapshot -i",
    "snapshot -i -c -d 3",
    "get text '#out'",
    "is visible '#save'",
    'goto "$(agent browser get url)"',  # an alias, named as typed by the declared client too
    "eval \"'café ☕ '.repeat(2)\"",
    "eval $'1 +\\n 1'",
    "click @e99999",  # a failure: its one-line reason, exit 1
    "click '#nope'",
    "snapshot -d x",  # usage errors: exit 2, one line
    "nope",
    "get",
    "snapshot -h",  # help: printed by the declared client, as ever
    "-h",
    "--token guess get url",  # the client's own options
    "",
]
STDIN_CASES = {  # `eval -` reads the script from stdin, carriage returns kept
    "eval -": "JSON.stringify((function(){/*\r\n\r*/}).toString()) + document.title\r\n",
}
ENV_CASES = {  # the environment a command runs in
    "AGENT_SESSION_TOKEN=guess": "get url",
    "AGENT_SESSION_SOCKET=": "get url",
    "AGENT_SESSION_SOCKET=/nowhere": "get url",
}


def _clients(layout: Layout) -> dict[str, str]:
    python = shlex.quote(layout.python)
    return {
        "shim": "agent browser",
        "lean": f"{python} -I -S {shlex.quote(layout.browser_client)}",
        "declared": f"{python} -I -S {shlex.quote(layout.browser_cli)}",
    }


def _script(layout: Layout) -> str:
    """Every case by every client, each one's stdout, stderr and status in files under out/."""
    lines = ["mkdir -p out"]
    number = 0
    runs = [("", words, "") for words in CASES]
    runs += [("", words, text) for words, text in STDIN_CASES.items()]
    runs += [(env, words, "") for env, words in ENV_CASES.items()]
    for env, words, text in runs:
        number += 1
        for name, client in _clients(layout).items():
            feed = f"printf %s {shlex.quote(text)} | " if text else ""
            out = f"out/{number}-{name}"
            lines.append(f"{feed}{env} {client} {words} >{out}.out 2>{out}.err; echo $? >{out}.rc")
    return "\n".join(lines)


async def _compare(session: BrowserSession, site: str) -> Path:
    await session.goto(f"{site}/app.html")
    state = executors_for(session)
    layout = (await state.launcher()).layout
    outcome = await run_code(session, _script(layout), "bash", timeout_s=120)
    assert outcome.success, outcome
    out = state.workdir / "out"
    cases = sorted({path.name.split("-")[0] for path in out.iterdir()}, key=int)
    assert len(cases) == len(CASES) + len(STDIN_CASES) + len(ENV_CASES)
    for case in cases:
        said = {
            name: tuple(
                (out / f"{case}-{name}.{part}").read_text() for part in ("rc", "out", "err")
            )
            for name in _clients(layout)
        }
        assert said["shim"] == said["declared"], (case, said)
        assert said["lean"] == said["declared"], (case, said)
    return out


async def test_in_the_box_every_client_says_the_same(session, site):
    out = await _compare(session, site)
    texts = {path.name: path.read_text() for path in out.iterdir()}
    # The cases do what they say (so the comparison compares something).
    assert texts["1-declared.out"] == f"{site}/app.html\n"
    assert texts["10-declared.rc"] == "1\n" and "never in a snapshot" in texts["10-declared.err"]
    assert texts["12-declared.rc"] == "2\n" and "invalid int value" in texts["12-declared.err"]
    assert texts["15-declared.out"].startswith("usage: agent browser snapshot")
    assert texts["8-declared.out"] == "café ☕ café ☕ \n"
    assert texts["19-declared.out"] == '"function(){/*\\r\\n\\r*/}"Orders\n'
    assert "not allowed" in texts["20-declared.err"]


async def test_in_the_box_bash_sends_the_command_itself(session, app):
    """The quick path is taken: the shim neither starts the Python client nor falls back."""
    outcome = await run_code(session, 'bash -x "$(command -v agent)" browser get url', "bash")
    assert outcome.success, outcome
    assert outcome.stdout == f"{app}\n"
    # Traced up to the connection (inside it, the shim's stderr is its own), and never past it.
    assert outcome.stderr.endswith("+ cd -P .\n"), outcome.stderr
    assert "browser_client.py" not in outcome.stderr, outcome.stderr


@pytest.fixture
async def direct_session() -> AsyncIterator[BrowserSession]:
    """A session whose code runs without a sandbox (its executors take these settings)."""
    session = BrowserSession(await launch_browser(), action_timeout_s=2.0)
    executors_for(session, Settings(sandbox=None))
    yield session
    await session.close()


async def test_without_a_box_every_client_says_the_same(direct_session, site):
    await _compare(direct_session, site)
    # A relative path is the code's: from its own working folder, as the declared client has it.
    script = "mkdir -p sub && cd sub && agent browser screenshot shot.png"
    outcome = await run_code(direct_session, script, "bash")
    workdir = executors_for(direct_session).workdir
    assert outcome.success and outcome.stdout == f"{workdir / 'sub' / 'shot.png'}\n", outcome
    assert (workdir / "sub" / "shot.png").read_bytes()[:4] == b"\x89PNG"


async def test_a_client_that_closes_instead_of_sending_stdin_runs_nothing(session, app):
    # The shim hands `eval -` to the Python client once the server asks for stdin: the command
    # must not also run, with an empty script, for the shim.
    state = executors_for(session)
    async with state.browser_access() as (socket_path, token):
        request = b"\0".join([token.encode(), b"/work", b"2", b"eval", b"-"])
        reader, writer = await asyncio.open_unix_connection(socket_path)
        writer.write(MAGIC + request + b"\0")
        assert await reader.readline() == STDIN + b"\n"
        writer.write_eof()  # as a closing client's last word: no "+", no script
        assert await asyncio.wait_for(reader.read(), 10) == b"", "the command ran anyway"
        writer.close()
        # And one that sends it gets its answer.
        reader, writer = await asyncio.open_unix_connection(socket_path)
        writer.write(MAGIC + request + b"\0")
        assert await reader.readline() == STDIN + b"\n"
        writer.write(b"+document.title")
        writer.write_eof()
        assert await asyncio.wait_for(reader.read(), 10) == b"0 1\nOrders\n"
        writer.close()
