"""The bash executor: ``bash -c CODE`` with ``agent browser`` on PATH, bound to one session.

Bash starts in a few milliseconds, so there is no warm bash process; the command-line tool it
calls is a thin client that asks the session's ``BrowserRPC`` server to act, so ``snapshot -i``
and ``click @e2`` in a script use the planner's own page and refs. The script runs in its own
process group, which is killed when the script ends or times out: a background job does not
outlive the call.
"""

from __future__ import annotations

import stat
from pathlib import Path

from agent.executors.capture import StreamCapture
from agent.executors.launcher import Launcher, Layout
from agent.executors.result import KILLED_EXIT_CODE, MAX_OUTPUT_BYTES, CodeResult
from agent.executors.worker import wait_exit

__all__ = ["CLIENT_SCRIPT", "run_bash", "write_agent_shim"]

# The `agent browser` client, run by path so it imports neither the `agent` package nor anything
# outside the standard library (a python start-up, not a Playwright import, per command). The
# shim runs the lean one (browser_client.py), which hands what it does not do to this one.
CLIENT_SCRIPT = Path(__file__).resolve().with_name("browser_cli.py")

_SHIM = """{shebang}
# `agent browser ...` talks to the session that runs this script.
if [ "$1" = browser ]; then
  shift
{quick}  exec {python} -I -S {client} "$@"
fi
{rest}
"""
# The quick way, when the box forwards a port of its own loopback to the session's socket: bash
# sends the command line itself (the wire is browser_client.py's), so a command costs no Python
# start. The client does what this does not (options before the command, help, stdin for
# `eval -`): the session answers "help" or "stdin" before it runs anything. Bash's -p: no
# BASH_ENV, functions or shell options from the environment of the code that runs it.
_QUICK_SHEBANG = "#!/bin/bash -p"
_QUICK = """  if [ "$#" -gt 0 ] && [ "${{1#-}}" = "$1" ] && [ -n "$AGENT_SESSION_TOKEN" ] \\
    && [ "$AGENT_SESSION_SOCKET" = {socket} ] && cd -P . 2>/dev/null; then
    {{
      printf 'argv\\n%s\\0%s\\0%s\\0' "$AGENT_SESSION_TOKEN" "$PWD" "$#" >&3
      printf '%s\\0' "$@" >&3
      IFS=' ' read -r status fd <&3
      case "$status $fd" in
      [0-9]*" 1") command -p cat <&3; exit "$status" ;;
      [0-9]*" 2") command -p cat <&3 >&4; exit "$status" ;;
      "help "|"stdin ") ;;
      *) echo "agent browser $1: the session sent no answer (it may be closing)." >&4; exit 3 ;;
      esac
    }} 4>&2 2>/dev/null 3<>/dev/tcp/127.0.0.1/{port}
  fi
"""
_REST_DIRECT = 'exec {python} -m agent "$@"'
_REST_SANDBOXED = (
    'echo "agent: only \\`agent browser\\` is available inside the sandbox" >&2; exit 2'
)


def write_agent_shim(bin_dir: Path, layout: Layout, *, sandboxed: bool) -> Path:
    """Write the ``agent`` command that bash code finds first on its PATH (at ``bin_dir`` on
    this machine; the paths in it are as ``layout`` says the code sees them)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    shim = bin_dir / "agent"
    python = _quote(layout.python)
    rest = _REST_SANDBOXED if sandboxed else _REST_DIRECT.format(python=python)
    shebang, quick = "#!/bin/sh", ""
    if layout.rpc_port:
        shebang = _QUICK_SHEBANG
        quick = _QUICK.format(socket=_quote(layout.rpc_socket), port=layout.rpc_port)
    client = _quote(layout.browser_client)
    shim.write_text(
        _SHIM.format(shebang=shebang, quick=quick, python=python, client=client, rest=rest)
    )
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return shim


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


async def run_bash(
    launcher: Launcher, code: str, *, env: dict[str, str], timeout_s: float
) -> CodeResult:
    """Run ``code`` with ``bash -c``; kill its process group at the timeout or when it ends."""
    process = await launcher.spawn(["bash", "-c", code], env=env)
    stdout = StreamCapture(process.stdout, MAX_OUTPUT_BYTES)
    stderr = StreamCapture(process.stderr, MAX_OUTPUT_BYTES)
    stdout.begin()
    stderr.begin()
    returncode = await wait_exit(process, timeout_s)
    killed = process.returncode is None
    # Whatever the script left running (a background job holding the pipes) ends with it.
    await process.kill()
    if killed:
        await wait_exit(process, 5.0)
    for capture in (stdout, stderr):
        await capture.wait_closed(1.0)
        await capture.aclose()
    err = stderr.end()
    if killed:
        err += f"\n[killed: the code ran past its timeout of {timeout_s:g} s]"
    return CodeResult(
        stdout=stdout.end(),
        stderr=err.lstrip("\n"),
        result="",
        exit_code=KILLED_EXIT_CODE
        if killed
        else (128 - returncode if returncode < 0 else returncode),
        killed=killed,
        truncated=stdout.truncated or stderr.truncated,
    )
