"""``run_code``: run python, node or bash code against one session's browser, in a child process.

Each session gets, lazily, a private folder (the code's working directory, the ``agent`` shim on
bash's PATH, the RPC socket), one warm worker per language (python, node) attached over CDP to
that session's browser alone, and the ``agent browser`` RPC server. ``page`` in the code is the
session's current page, found in the worker by its CDP target id on every call. All of it is
torn down by the session's ``close()``.

``run_code`` does not take ``session.lock``: the caller serialises calls on a session, and the
``agent browser`` commands of a running bash script must act while the caller holds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import sys
import tempfile
import weakref
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from agent.errors import ExecutorStartError, SessionLostError
from agent.executors.agent_browser import AgentBrowser
from agent.executors.bash import run_bash, write_agent_shim
from agent.executors.browser_rpc import SOCKET_ENV, TOKEN_ENV, BrowserRPC
from agent.executors.node_deps import ensure_node_deps, node_binary
from agent.executors.result import LANGUAGES, MAX_TIMEOUT_S, MIN_TIMEOUT_S, CodeResult, Language
from agent.executors.worker import WarmWorker

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

log = logging.getLogger(__name__)

_by_session: weakref.WeakKeyDictionary[BrowserSession, SessionExecutors] = (
    weakref.WeakKeyDictionary()
)


async def run_code(
    session: BrowserSession, code: str, language: Language, timeout_s: float = 30.0
) -> CodeResult:
    """Run ``code`` in a child process bound to ``session``'s browser and current page.

    Args:
        session: The session whose browser and page the code acts on.
        code: Python (Playwright async API, top-level await), JavaScript (playwright-core,
            top-level await) or a bash script (with ``agent browser`` on PATH).
        language: ``"python"``, ``"node"`` or ``"bash"``.
        timeout_s: Seconds the code may run (1 to 300); past it the process is killed.

    Raises:
        ValueError: An unknown language or a timeout out of range.
        SessionLostError: The session's browser is gone.
        ConfigError: node is missing, or its packages cannot be installed.
    """
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, not {language!r}")
    if not MIN_TIMEOUT_S <= timeout_s <= MAX_TIMEOUT_S:
        raise ValueError(
            f"timeout_s must be between {MIN_TIMEOUT_S:g} and {MAX_TIMEOUT_S:g} s, not {timeout_s}"
        )
    return await executors_for(session).run(code, language, timeout_s)


async def warm_up(session: BrowserSession, *languages: Language) -> None:
    """Start the python and node workers ahead of the first call (bash needs none)."""
    state = executors_for(session)
    await asyncio.gather(*(state.ready(lang) for lang in languages or ("python", "node")))


def executors_for(session: BrowserSession) -> SessionExecutors:
    """The session's executors, created (and registered for cleanup at close) on first use."""
    if not session.alive:
        raise SessionLostError("The session's browser is gone; start a new session to run code.")
    state = _by_session.get(session)
    if state is None:
        state = SessionExecutors(session)
        _by_session[session] = state
        session.add_cleanup(state.close)
    return state


def child_environment(parent: Mapping[str, str], *, cdp_url: str, bin_dir: Path) -> dict[str, str]:
    """The parent's environment without other sessions' variables or the server's credentials,
    plus this session's CDP URL and the ``agent`` shim first on PATH."""
    env = {
        name: value
        for name, value in parent.items()
        if name not in _SESSION_VARS and not _SECRET_VAR.search(name)
    }
    env[CDP_URL_ENV] = cdp_url
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', os.defpath)}"
    return env


class SessionExecutors:
    """One session's warm workers, RPC server and private folder."""

    def __init__(self, session: BrowserSession) -> None:
        self._session = weakref.ref(session)
        self.cdp_url = session.cdp_url
        self.root = Path(tempfile.mkdtemp(prefix="agent-exec-"))
        self.workdir = self.root / "work"
        self.workdir.mkdir()
        self.bin_dir = self.root / "bin"
        write_agent_shim(self.bin_dir)
        self.agent_browser = AgentBrowser(self.root, screenshots=self.workdir)
        self.workers: dict[str, WarmWorker] = {}
        self.rpc: BrowserRPC | None = None
        self._locks = {lang: asyncio.Lock() for lang in LANGUAGES}
        self._pages: dict[Page, tuple[str, CDPSession]] = {}
        self._closed = False
        self._agent_browser_ready = False
        self._restarts: set[asyncio.Task[None]] = set()

    def _live_session(self) -> BrowserSession:
        session = self._session()
        if session is None or self._closed:
            raise SessionLostError("The session was closed; start a new session to run code.")
        return session

    def env(self) -> dict[str, str]:
        """The environment of every child: this session's CDP URL, and no other session's."""
        return child_environment(os.environ, cdp_url=self.cdp_url, bin_dir=self.bin_dir)

    async def run(self, code: str, language: Language, timeout_s: float) -> CodeResult:
        session = self._live_session()
        if language == "bash":
            return await self._run_bash(code, timeout_s)
        async with self._locks[language]:
            try:
                worker = await self._worker(language)
            except ExecutorStartError as exc:
                if not session.alive:
                    raise SessionLostError("The session's browser died.") from exc
                return CodeResult(
                    stdout="",
                    stderr=f"The {language} executor could not start: {exc}",
                    result="",
                    exit_code=1,
                )
            target_id = await self._target_id(session.page)
            result = await worker.run(code, target_id, timeout_s)
            if result.killed:
                await self._unfreeze(session.page)
        if not worker.alive and not self._closed:
            # Killed or ended by the code: start its replacement now, so the next call is warm.
            restart = asyncio.create_task(self._restart(language))
            self._restarts.add(restart)
            restart.add_done_callback(self._restarts.discard)
        return result

    async def _restart(self, language: Language) -> None:
        try:
            await self.ready(language)
        except Exception:  # the next call starts it again and reports what went wrong
            log.warning("restarting the %s executor failed", language, exc_info=True)

    async def ready(self, language: Language) -> None:
        """Start the language's worker now if it is not running."""
        if language == "bash":
            return
        async with self._locks[language]:
            await self._worker(language)

    async def _worker(self, language: Language) -> WarmWorker:
        worker = self.workers.get(language)
        if worker is not None and worker.alive:
            return worker
        if worker is not None:
            await worker.kill()
        if language == "python":
            argv = [sys.executable, "-u", "-P", str(_PYTHON_WORKER)]
        else:
            folder = await asyncio.to_thread(ensure_node_deps)
            argv = [node_binary(), str(folder / "worker.js")]
        worker = WarmWorker(argv, env=self.env(), cwd=str(self.workdir))
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

    @contextlib.asynccontextmanager
    async def browser_access(self) -> AsyncIterator[tuple[str, str]]:
        """``(socket_path, token)`` for ``agent browser`` commands, valid until the block ends."""
        if self.rpc is None:
            rpc = BrowserRPC(self._live_session(), self.root / "rpc.sock", self.workdir)
            await rpc.start()
            self.rpc = rpc
        async with self.rpc.grant() as token:
            yield str(self.rpc.socket_path), token

    async def _run_bash(self, code: str, timeout_s: float) -> CodeResult:
        session = self._live_session()
        if not self._agent_browser_ready:
            self.agent_browser.write_shim(self.bin_dir, await session.loopback_cdp_url())
            self._agent_browser_ready = True
        if self.agent_browser.shim is not None and "agent-browser" in code:
            page = session.page
            await self.agent_browser.prepare(await self._target_id(page), len(session.tabs))
        env = self.env()
        async with self.browser_access() as (socket_path, token):
            env[SOCKET_ENV] = socket_path
            env[TOKEN_ENV] = token
            return await run_bash(code, env=env, cwd=str(self.workdir), timeout_s=timeout_s)

    async def close(self) -> None:
        """Kill every worker, stop the RPC server and remove the private folder."""
        self._closed = True
        for restart in list(self._restarts):
            restart.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await restart
        await asyncio.gather(
            self.agent_browser.close(), *(worker.kill() for worker in self.workers.values())
        )
        self.workers.clear()
        if self.rpc is not None:
            await self.rpc.close()
        shutil.rmtree(self.root, ignore_errors=True)
        session = self._session()
        if session is not None:
            _by_session.pop(session, None)
