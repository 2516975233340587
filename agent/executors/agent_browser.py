"""``agent-browser`` (vercel-labs, npm, pinned) in bash code, attached to the session's browser.

Firecrawl's interact docs give bash mode the ``agent-browser`` command; we ship the real one, so
users get its documented command set, output and exit statuses rather than a look-alike. Its
Linux binary comes inside the npm package (``agent/executors/node``, installed by ``npm ci``).

How it is bound to one session:

* The session's bash code finds an ``agent-browser`` shim first on its PATH. The shim pins the
  tool to this session: its CDP URL (``AGENT_BROWSER_CDP``), one session name, and a private
  home and socket folder inside the session's own folder, so its daemon, sockets, screenshots
  and config are the session's alone. It also turns off the update check (the machine may have
  no network) and the automatic dismissal of dialogs (which would race the session's own
  dialog handling).
* agent-browser keeps a daemon per session name that holds its refs between commands, so
  ``snapshot -i`` in one call and ``click @e2`` in the next work. The daemon starts on first
  use and ends with the session (stop, TTL, inactivity, a lost browser): ``close()`` disconnects
  it (which leaves our browser running) and kills it if it lingers. An idle timeout of an hour
  is the backstop should the server itself die.
* With several tabs open, the daemon is pointed at the session's current page before each
  script that uses it (agent-browser would otherwise keep to the first tab).
* Two documented waits the pinned version gets wrong are the shim's own: ``wait @eN`` (it reads
  the ref as a CSS selector and times out; the shim waits for the ref to be visible, also while
  its element is off the page) and ``wait --load networkidle`` (it counts only requests that
  start once asked, so one already under way is not waited for; the shim asks the session's own
  ``agent browser``, whose monitor has seen every request).

Its refs (``@e1`` from its own ``snapshot``) are its own: the planner's refs are ``agent
browser``'s (``agent.executors.browser_cli``), and the two never mix.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import platform
import signal
import stat
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from agent import procfs
from agent.errors import ConfigError
from agent.executors.node_deps import NODE_DIR

__all__ = ["AGENT_BROWSER_VERSION", "AgentBrowser", "Runner", "agent_browser_binary"]

AGENT_BROWSER_VERSION = "0.41.2"
"""The pinned version (agent/executors/node/package.json)."""

SESSION_NAME = "session"
IDLE_TIMEOUT_MS = 3_600_000
WAIT_TIMEOUT_S = 25
"""How long ``wait @eN`` and ``wait --load networkidle`` wait, as agent-browser's own default
action timeout."""
_ABSENT = "Could not locate element"
"""How this version says a ref's element is not on the page (it finds it by role and name)."""

log = logging.getLogger(__name__)

_SHIM = """#!/bin/sh
# agent-browser {version}, bound to this session's browser (see agent/executors/agent_browser.py).
mkdir -p {home} {run}
export HOME={home}
export AGENT_BROWSER_SOCKET_DIR={run}
export AGENT_BROWSER_SESSION={session}
export AGENT_BROWSER_CDP={cdp}
export AGENT_BROWSER_NO_VERSION_CHECK=1
export AGENT_BROWSER_NO_AUTO_DIALOG=1
export AGENT_BROWSER_IDLE_TIMEOUT_MS={idle}
export AGENT_BROWSER_SCREENSHOT_DIR={screenshots}
unset AGENT_BROWSER_CONFIG AGENT_BROWSER_PROVIDER AGENT_BROWSER_AUTO_CONNECT
if [ "$#" -eq 2 ] && [ "$1" = wait ]; then
  case "$2" in
  @e[0-9]*)
    # `wait @eN`: until the element is visible (this version reads a ref as a CSS selector),
    # also while it is off the page (removed, to be added again); an unknown ref fails at once.
    tries=0
    while [ "$tries" -lt {polls} ]; do
      answer=$({binary} is visible "$2" 2>&1)
      case "$?:$answer" in
      0:true) echo "✓ Done"; exit 0 ;;
      0:*|*"{absent}"*) ;;
      *) printf '%s\n' "$answer" >&2; exit 1 ;;
      esac
      sleep 0.1
      tries=$((tries + 1))
    done
    echo "✗ Wait timed out after {timeout_ms}ms: $2 did not become visible" >&2
    exit 1
    ;;
  esac
fi
if [ "$#" -eq 3 ] && [ "$1" = wait ] && [ "$2" = --load ] && [ "$3" = networkidle ]; then
  # This version watches only the requests that start once it is asked, so a request pending
  # already (the page's own, or one a click set off) is not waited for; the session's own
  # `agent browser` counts every request of the session, whenever it started.
  if failed=$("$(dirname "$0")/agent" browser wait --load networkidle --timeout {timeout_ms} \
    2>&1 >/dev/null); then
    echo "✓ Done"
    exit 0
  fi
  echo "✗ ${{failed#agent browser wait: }}" >&2
  exit 1
fi
exec {binary} "$@"
"""

_MISSING_SHIM = """#!/bin/sh
# agent-browser is not installed on this server (see agent/executors/agent_browser.py).
# One line: the interact call's error is the last line of stderr.
cat >&2 <<'END'
agent-browser: not installed on this server; its operator installs it with `npm ci --prefix \
agent/executors/node` (bash .ci/setup does), and sessions started after that have it. Meanwhile \
`agent browser` (see `agent browser --help`) offers similar commands.
END
exit 127
"""


def agent_browser_binary() -> Path:
    """The agent-browser binary for this machine, inside the installed npm package.

    Raises:
        ConfigError: the package is not installed, or has no binary for this platform.
    """
    machine = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower(), platform.machine().lower()
    )
    system = platform.system().lower()
    package = NODE_DIR / "node_modules" / "agent-browser"
    binary = package / "bin" / f"agent-browser-{system}-{machine}"
    if not binary.is_file():
        raise ConfigError(
            f"agent-browser is not installed (no {binary}): run `npm ci --prefix {NODE_DIR}`."
        )
    if not os.access(binary, os.X_OK):
        # npm leaves it 0644 when install scripts do not run (--ignore-scripts, allowScripts).
        binary.chmod(binary.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return binary


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


Runner = Callable[[Sequence[str]], Awaitable[tuple[int, str]]]
"""Runs a command where the session's code runs (its sandbox, or directly); returns its exit
status and output."""


class AgentBrowser:
    """agent-browser for one session: its shim, its folders and its daemon.

    Paths are as the session's code sees them. ``host_run_dir`` is where this process can read
    the daemon's pid file: set when code runs directly; None in a sandbox, whose end ends the
    daemon with everything else in it.
    """

    def __init__(
        self, *, home: str, run_dir: str, screenshots: str, host_run_dir: Path | None = None
    ) -> None:
        self.shim: Path | None = None
        self.home = home
        self.run_dir = run_dir
        self.screenshots = screenshots
        self.host_run_dir = host_run_dir
        self._started = False

    def write_shim(self, bin_dir: Path, *, node_dir: str, cdp_url: str) -> Path | None:
        """Write the ``agent-browser`` command for the session's bash code, attached to
        ``cdp_url`` (a ``ws://`` URL: the tool speaks TCP only); ``node_dir`` is the npm folder
        as the code sees it. Returns it; None when the package is not installed: bash still
        works, and its ``agent-browser`` command then only says so on stderr and how to install
        it (exit 127, as a missing command), rather than leaving bash's "command not found"."""
        bin_dir.mkdir(parents=True, exist_ok=True)
        shim = bin_dir / "agent-browser"
        try:
            binary = agent_browser_binary()
        except ConfigError as exc:
            log.info("bash code will have no agent-browser: %s", exc)
            shim.write_text(_MISSING_SHIM)
            shim.chmod(0o755)
            return None
        seen_binary = binary.relative_to(NODE_DIR)
        shim.write_text(
            _SHIM.format(
                version=AGENT_BROWSER_VERSION,
                home=_quote(self.home),
                run=_quote(self.run_dir),
                session=SESSION_NAME,
                cdp=_quote(cdp_url),
                idle=IDLE_TIMEOUT_MS,
                screenshots=_quote(self.screenshots),
                binary=_quote(f"{node_dir}/{seen_binary}"),
                polls=WAIT_TIMEOUT_S * 10,
                absent=_ABSENT,
                timeout_ms=WAIT_TIMEOUT_S * 1000,
            )
        )
        shim.chmod(0o755)
        self.shim = shim
        return shim

    async def prepare(self, run: Runner, target_id: str, tabs: int) -> None:
        """Before a script that uses agent-browser: start the daemon if it is not up (with its
        live stream server turned off: nobody here watches it, and it is one less open port),
        and point it at the session's current page when there is more than one tab."""
        if not self._started:
            self._started = True
            await run(["agent-browser", "stream", "disable"])
        if tabs > 1:
            code, listing = await run(["agent-browser", "--json", "tab", "list"])
            if code != 0:
                return  # the script's own first command will say what is wrong
            try:
                found = json.loads(listing)["data"]["tabs"]
            except (ValueError, KeyError, TypeError):
                return
            for tab in found:
                if tab.get("targetId") == target_id and not tab.get("active"):
                    await run(["agent-browser", "tab", str(tab["tabId"])])

    async def close(self, run: Runner) -> None:
        """Disconnect the daemon (our browser stays up) and make sure it has exited."""
        if self.host_run_dir is None:
            return
        pid = _daemon_pid(self.host_run_dir)
        if pid is not None and _alive(pid):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(run(["agent-browser", "close"]), 5.0)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 3.0
            while _alive(pid) and loop.time() < deadline:  # noqa: ASYNC110 - another process
                await asyncio.sleep(0.05)
            if _alive(pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)


def _daemon_pid(run_dir: Path) -> int | None:
    try:
        return int((run_dir / f"{SESSION_NAME}.pid").read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a running agent-browser process (not a zombie, not a recycled pid)."""
    found, command = procfs.stat(pid), procfs.cmdline(pid)
    if found is None or command is None:
        return False
    return not found.zombie and b"agent-browser" in b"\0".join(command)
