"""``run_code``: run python, node or bash code against one session's browser, in a child process.

Each session gets, lazily, a private folder (the code's working directory, the ``agent`` and
``agent-browser`` commands on bash's PATH, the RPC socket), its sandbox (``sandbox.BoxLauncher``;
or, with ``AGENT_SANDBOX=none``, plain child processes), one warm worker per language (python,
node) attached to that session's browser alone through its private DevTools socket, and the
``agent browser`` RPC server. ``page`` in the code is the session's current page, found in the
worker by its CDP target id on every call. All of it is torn down by the session's ``close()``.

``run_code`` does not take ``session.lock``: the caller serialises calls on a session, and the
``agent browser`` commands of a running bash script must act while the caller holds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import re
import shlex
import shutil
import sys
import tempfile
import weakref
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from agent.config import Settings, load_settings
from agent.errors import ExecutorStartError, SessionLostError
from agent.executors.agent_browser import AgentBrowser
from agent.executors.bash import run_bash, write_agent_shim
from agent.executors.box_check import check_code_box
from agent.executors.browser_rpc import SOCKET_ENV, TOKEN_ENV, BrowserRPC
from agent.executors.launcher import DirectLauncher, Launcher, Layout
from agent.executors.node_deps import NODE_DIR, ensure_node_deps, node_binary
from agent.executors.result import LANGUAGES, MAX_TIMEOUT_S, MIN_TIMEOUT_S, CodeResult, Language
from agent.executors.sandbox import BOX_CDP_PORT, BoxLauncher, box_path
from agent.executors.worker import WarmWorker
from agent.observability import current_telemetry

if TYPE_CHECKING:
    from playwright.async_api import CDPSession, Page

    from agent.browser.session import BrowserSession

__all__ = ["SessionExecutors", "child_environment", "executors_for", "run_code", "warm_up"]

CDP_URL_ENV = "AGENT_CDP_URL"
# Variables that name a session: a child must only ever see its own.
_SESSION_VARS = (CDP_URL_ENV, SOCKET_ENV, TOKEN_ENV)
# Credentials of the server itself (model keys, its own API keys) that code sent by a client has
# no use for. Dropping them is hygiene, not a boundary: the code runs as the server's user.
_SECRET_VAR = re.compile(r"(KEY|KEYS|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)$|^AWS_", re.I)
_PYTHON_WORKER = Path(__file__).with_name("python_worker.py")
_BROWSER_CLI = Path(__file__).with_name("browser_cli.py")
_BROWSER_CLIENT = Path(__file__).with_name("browser_client.py")

log = logging.getLogger(__name__)

_by_session: weakref.WeakKeyDictionary[BrowserSession, SessionExecutors] = (
    weakref.WeakKeyDictionary()
)


async def run_code(
    session: BrowserSession,
    code: str,
    language: Language,
    timeout_s: float = 30.0,
    *,
    settings: Settings | None = None,
) -> CodeResult:
    """Run ``code`` in a child process bound to ``session``'s browser and current page.

    Args:
        session: The session whose browser and page the code acts on.
        code: Python (Playwright async API, top-level await), JavaScript (playwright-core,
            top-level await) or a bash script (with ``agent browser`` and ``agent-browser``).
        language: ``"python"``, ``"node"`` or ``"bash"``.
        timeout_s: Seconds the code may run (1 to 300); past it the process is killed.
        settings: The sandbox settings (``sandbox``, ``sandbox_*``) for the session's first
            call; from the environment when None.

    Raises:
        ValueError: An unknown language or a timeout out of range.
        SessionLostError: The session's browser is gone.
        ConfigError: node is missing, its packages cannot be installed, or the sandbox cannot
            be set up (and ``sandbox`` is not none).
        ExecutorStartError: the session's sandbox or the language's worker did not start (the
            message says why, with what the sandbox printed): the server's failure, not the
            code's.
    """
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, not {language!r}")
    if not MIN_TIMEOUT_S <= timeout_s <= MAX_TIMEOUT_S:
        raise ValueError(
            f"timeout_s must be between {MIN_TIMEOUT_S:g} and {MAX_TIMEOUT_S:g} s, not {timeout_s}"
        )
    telemetry = current_telemetry()
    attributes = {"agent.code.language": language, "agent.code.timeout_s": timeout_s}
    with telemetry.span("execute_code", attributes=attributes) as span:
        result = await executors_for(session, settings).run(code, language, timeout_s)
        if span is not None:
            span.set_attribute("agent.code.exit_code", result.exit_code)
            span.set_attribute("process.exit.code", result.exit_code)
            span.set_attribute("agent.code.killed", result.killed)
            if result.exit_code != 0 or result.killed:
                span.set_attribute("error.type", "killed" if result.killed else "exit_code")
    if telemetry.recorder is not None:
        telemetry.recorder.code_run(language, killed=result.killed)
    return result


async def warm_up(
    session: BrowserSession, *languages: Language, settings: Settings | None = None
) -> None:
    """Start the python and node workers ahead of the first call (bash needs none)."""
    state = executors_for(session, settings)
    await asyncio.gather(*(state.ready(lang) for lang in languages or ("python", "node")))


def executors_for(session: BrowserSession, settings: Settings | None = None) -> SessionExecutors:
    """The session's executors, created (and registered for cleanup at close) on first use."""
    if not session.alive:
        raise SessionLostError("The session's browser is gone; start a new session to run code.")
    state = _by_session.get(session)
    if state is None:
        state = SessionExecutors(session, settings if settings is not None else load_settings())
        _by_session[session] = state
        session.add_cleanup(state.close)
    return state


def child_environment(parent: Mapping[str, str], *, cdp_url: str, bin_dir: str) -> dict[str, str]:
    """The parent's environment without other sessions' variables or the server's credentials,
    plus this session's CDP URL and the ``agent`` shim first on PATH (for code run directly)."""
    env = {
        name: value
        for name, value in parent.items()
        if name not in _SESSION_VARS and not _SECRET_VAR.search(name)
    }
    env[CDP_URL_ENV] = cdp_url
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', os.defpath)}"
    return env


class SessionExecutors:
    """One session's sandbox, warm workers, RPC server and private folder."""

    def __init__(self, session: BrowserSession, settings: Settings) -> None:
        self._session = weakref.ref(session)
        self.settings = settings
        self.cdp_url = session.cdp_url
        self.root = Path(tempfile.mkdtemp(prefix="agent-exec-"))
        self.workdir = self.root / "work"
        self.workdir.mkdir()
        self.bin_dir = self.root / "bin"
        self.bin_dir.mkdir()
        self.workers: dict[str, WarmWorker] = {}
        self.rpc: BrowserRPC | None = None
        self.agent_browser: AgentBrowser | None = None
        self._launcher: Launcher | None = None
        self._launcher_lock = asyncio.Lock()
        self._locks = {lang: asyncio.Lock() for lang in LANGUAGES}
        self._pages: dict[Page, tuple[str, CDPSession]] = {}
        self._closed = False
        self._restarts: set[asyncio.Task[None]] = set()

    def _live_session(self) -> BrowserSession:
        session = self._session()
        if session is None or self._closed:
            raise SessionLostError("The session was closed; start a new session to run code.")
        return session

    async def launcher(self) -> Launcher:
        """The session's launcher, its sandbox started on first use, and again if the code took
        its sandbox down (``kill -9 -1`` kills the sandbox's first process too)."""
        async with self._launcher_lock:
            if isinstance(self._launcher, BoxLauncher) and not self._launcher.alive:
                # Code may end its own box (`kill -9 -1`); anything else ending it is worth a
                # line in the server's log, with what the box said.
                reason = await self._launcher.exit_reason(wait_s=1.0)
                log.warning(
                    "the session's sandbox ended (%s); starting a new one", reason or "still ending"
                )
                for worker in self.workers.values():
                    await worker.kill()
                self.workers.clear()
                await self._launcher.close()
                self._launcher = None
            if self._launcher is None:
                self._launcher = await self._start_launcher()
            return self._launcher

    async def _start_launcher(self) -> Launcher:
        session = self._live_session()
        rpc = await self._rpc()
        launcher: Launcher
        if self.settings.sandbox is None:
            launcher = DirectLauncher(
                Layout(
                    workdir=str(self.workdir),
                    bin_dir=str(self.bin_dir),
                    python=sys.executable,
                    python_worker=str(_PYTHON_WORKER),
                    node_dir=str(NODE_DIR),
                    browser_cli=str(_BROWSER_CLI),
                    browser_client=str(_BROWSER_CLIENT),
                    cdp_url=session.cdp_url,
                    rpc_socket=str(rpc.socket_path),
                )
            )
            folder = self.root / "agent-browser"
            self.agent_browser = AgentBrowser(
                home=str(folder / "home"),
                run_dir=str(folder / "run"),
                screenshots=str(self.workdir),
                host_run_dir=folder / "run",
            )
            tcp_cdp_url = await session.loopback_cdp_url()
        else:
            await asyncio.to_thread(check_code_box, self.settings)
            box = BoxLauncher(
                root=self.root,
                workdir=self.workdir,
                bin_dir=self.bin_dir,
                cdp_socket=session.cdp_socket,
                rpc_socket=rpc.socket_path,
                settings=self.settings,
            )
            await box.start()
            launcher = box
            self.agent_browser = AgentBrowser(
                home="/tmp/agent-browser/home",
                run_dir="/tmp/agent-browser/run",
                screenshots=launcher.layout.workdir,
            )
            if self.settings.sandbox_outbound_network:
                # The box shares the host's network, so a port it listened on would be open to
                # every local user: agent-browser gets the session's token-guarded port instead.
                tcp_cdp_url = await session.loopback_cdp_url()
            else:
                tcp_cdp_url = f"ws://127.0.0.1:{BOX_CDP_PORT}/devtools/browser"
        layout = launcher.layout
        write_agent_shim(self.bin_dir, layout, sandboxed=self.settings.sandbox is not None)
        self.agent_browser.write_shim(self.bin_dir, node_dir=layout.node_dir, cdp_url=tcp_cdp_url)
        return launcher

    def _environment(self, layout: Layout) -> dict[str, str]:
        """The environment of every child: this session's DevTools URL, and no other session's."""
        if self.settings.sandbox is None:
            return child_environment(os.environ, cdp_url=layout.cdp_url, bin_dir=layout.bin_dir)
        return {
            "PATH": f"{layout.bin_dir}:{box_path()}",
            "HOME": layout.workdir,
            "TMPDIR": "/tmp",
            "LANG": "C.UTF-8",
            CDP_URL_ENV: layout.cdp_url,
        }

    async def run(self, code: str, language: Language, timeout_s: float) -> CodeResult:
        """Run one call. A sandbox or worker that cannot start is the server's failure, not the
        code's: it raises ``ExecutorStartError`` saying why, rather than returning exit code 1."""
        session = self._live_session()
        try:
            launcher = await self.launcher()
        except ExecutorStartError as exc:
            raise _not_started(language, exc) from exc
        if language == "bash":
            try:
                return await _told_of_downloads(
                    session, await self._run_bash(launcher, code, timeout_s)
                )
            except ExecutorStartError as exc:  # the sandbox went away under the call
                raise _not_started(language, exc) from exc
        async with self._locks[language]:
            try:
                worker = await self._worker(launcher, language)
            except ExecutorStartError as exc:
                if not session.alive:
                    raise SessionLostError("The session's browser died.") from exc
                raise _not_started(language, exc) from exc
            target_id = await self._target_id(session.page)
            result = await worker.run(code, target_id, timeout_s)
            if result.killed:
                await self._unfreeze(session.page)
        if not worker.alive and not self._closed:
            # Killed or ended by the code: start its replacement now, so the next call is warm.
            restart = asyncio.create_task(self._restart(language))
            self._restarts.add(restart)
            restart.add_done_callback(self._restarts.discard)
        return await _told_of_downloads(session, result)

    async def _restart(self, language: Language) -> None:
        try:
            await self.ready(language)
        except Exception:  # the next call starts it again and reports what went wrong
            log.warning("restarting the %s executor failed", language, exc_info=True)

    async def ready(self, language: Language) -> None:
        """Start the language's worker now if it is not running."""
        launcher = await self.launcher()
        if language == "bash":
            return
        async with self._locks[language]:
            await self._worker(launcher, language)

    async def _worker(self, launcher: Launcher, language: Language) -> WarmWorker:
        worker = self.workers.get(language)
        if worker is not None and worker.alive:
            return worker
        if worker is not None:
            await worker.kill()
        layout = launcher.layout
        if language == "python":
            argv = [layout.python, "-u", "-P", layout.python_worker]
        else:
            await asyncio.to_thread(ensure_node_deps)
            argv = [node_binary(), f"{layout.node_dir}/worker.js"]
        worker = WarmWorker(launcher, argv, env=self._environment(layout))
        self.workers[language] = worker
        await worker.start()
        if self._closed:  # the session closed while the worker started
            await worker.kill()
            raise SessionLostError("The session was closed; start a new session to run code.")
        return worker

    async def _target_id(self, page: Page) -> str:
        """The CDP target id of ``page``: how a worker finds the same page on its connection."""
        for known in [p for p in self._pages if p.is_closed()]:
            del self._pages[known]
        known_page = self._pages.get(page)
        if known_page is None:
            # The CDP session stays attached: after a kill it must reach a renderer whose main
            # thread may be stuck in the code's JavaScript, which a new attachment cannot.
            cdp = await page.context.new_cdp_session(page)
            info = await cdp.send("Target.getTargetInfo")
            known_page = self._pages[page] = (str(info["targetInfo"]["targetId"]), cdp)
        return known_page[0]

    async def _unfreeze(self, page: Page) -> None:
        """After a kill, stop page JavaScript the code left spinning (``evaluate("while(1){}")``).

        Only when the page does not answer: ``Runtime.terminateExecution`` would otherwise cancel
        the next script the page runs.
        """
        with contextlib.suppress(Exception):
            await asyncio.wait_for(page.evaluate("1"), 1.0)
            return
        known_page = self._pages.get(page)
        if known_page is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(known_page[1].send("Runtime.terminateExecution"), 2.0)

    async def _rpc(self) -> BrowserRPC:
        if self.rpc is None:
            rpc = BrowserRPC(self._live_session(), self.root / "rpc.sock", self.workdir)
            await rpc.start()
            self.rpc = rpc
        return self.rpc

    @contextlib.asynccontextmanager
    async def browser_access(self) -> AsyncIterator[tuple[str, str]]:
        """``(socket_path, token)`` for ``agent browser`` commands, valid until the block ends;
        the path is the socket's here, on the server's side."""
        rpc = await self._rpc()
        async with rpc.grant() as token:
            yield str(rpc.socket_path), token

    async def _run_tool(self, argv: Sequence[str]) -> tuple[int, str]:
        """Run a short command where the session's code runs; its exit status and output."""
        launcher = await self.launcher()
        env = self._environment(launcher.layout)
        result = await run_bash(launcher, shlex.join(argv), env=env, timeout_s=15.0)
        return result.exit_code, (result.stdout or result.stderr).strip()

    async def _run_bash(self, launcher: Launcher, code: str, timeout_s: float) -> CodeResult:
        session = self._live_session()
        if self.agent_browser is not None and self.agent_browser.shim and "agent-browser" in code:
            target_id = await self._target_id(session.page)
            await self.agent_browser.prepare(self._run_tool, target_id, len(session.tabs))
        env = self._environment(launcher.layout)
        async with self.browser_access() as (_, token):
            env[SOCKET_ENV] = launcher.layout.rpc_socket
            env[TOKEN_ENV] = token
            return await run_bash(launcher, code, env=env, timeout_s=timeout_s)

    async def close(self) -> None:
        """Kill every worker, stop the RPC server and remove the private folder."""
        self._closed = True
        for restart in list(self._restarts):
            restart.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await restart
        if self.agent_browser is not None and self._launcher is not None:
            with contextlib.suppress(Exception):
                await self.agent_browser.close(self._run_tool)
        await asyncio.gather(*(worker.kill() for worker in self.workers.values()))
        self.workers.clear()
        if self._launcher is not None:
            await self._launcher.close()
        if self.rpc is not None:
            await self.rpc.close()
        shutil.rmtree(self.root, ignore_errors=True)
        session = self._session()
        if session is not None:
            _by_session.pop(session, None)


async def _told_of_downloads(session: BrowserSession, result: CodeResult) -> CodeResult:
    """``result`` with a line on stderr for each download the browser's limits stopped."""
    notes = await session.handle.router.download_notes()
    if not notes:
        return result
    stderr = result.stderr + ("\n" if result.stderr and not result.stderr.endswith("\n") else "")
    return dataclasses.replace(result, stderr=stderr + "\n".join(notes) + "\n")


def _not_started(language: Language, exc: Exception) -> ExecutorStartError:
    log.warning("the %s executor could not start: %s", language, exc)
    return ExecutorStartError(f"The {language} executor could not start: {exc}")
