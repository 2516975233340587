"""Checking at start that a session's box can run code: python, node and bash, for real.

``check_sandbox`` (in ``sandbox``) only asks whether bubblewrap can make namespaces here. A box
can still fail for reasons only a real one shows: the server's Python or Node.js installed where
the box does not see it, Playwright importable only through ``PYTHONPATH`` or a user
site-packages folder (the box's environment is its own), a library the interpreter loads from
somewhere unusual. So :func:`check_code_box` starts one box exactly as a session's first code call
would, runs each language's start-up in it (the python worker's imports, the node worker's
``playwright-core``, a bash command) and, when one fails, raises ``ConfigError`` with what the
box printed and what to change. ``agent serve`` and ``agent mcp`` call it before they serve, and a
session's first code call does too (once per process: a success is remembered).
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
import threading
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

from agent.config import Settings
from agent.errors import ConfigError, ExecutorStartError
from agent.executors.node_deps import NODE_DIR, node_installed
from agent.executors.sandbox import BoxLauncher, box_path, check_sandbox, runtime_prefixes

__all__ = ["check_code_box"]

_RUN_TIMEOUT_S = 60.0
_checked: set[tuple[Any, ...]] = set()
_checked_lock = threading.Lock()


def check_code_box(settings: Settings) -> None:
    """Raise ``ConfigError`` saying why and what to change when a session's box cannot run
    python, node or bash code. Does nothing when the sandbox is off (``AGENT_SANDBOX=none``).

    Takes about a second the first time (Playwright's import dominates); a success is remembered
    for this process and these settings.
    """
    if settings.sandbox is None:
        return
    key = (
        sys.executable,
        shutil.which("node"),
        settings.sandbox_memory_mb,
        settings.sandbox_processes,
        settings.sandbox_file_size_mb,
        settings.sandbox_tmp_mb,
        settings.sandbox_outbound_network,
    )
    with _checked_lock:
        if key in _checked:
            return
    check_sandbox(settings)
    _run_alone(_probe(settings))
    with _checked_lock:
        _checked.add(key)


def _run_alone(probe: Coroutine[Any, Any, None]) -> None:
    """Run ``probe`` on an event loop of its own: callers may be inside one already."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(probe)
        except BaseException as exc:  # handed to the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=run, name="code-box-check", daemon=True)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


async def _probe(settings: Settings) -> None:
    root = Path(tempfile.mkdtemp(prefix="agent-box-check-"))
    box: BoxLauncher | None = None
    try:
        for name in ("work", "bin"):
            (root / name).mkdir()
        for name in ("cdp.sock", "rpc.sock"):  # stand-ins: nothing in the check connects
            (root / name).touch()
        box = BoxLauncher(
            root=root,
            workdir=root / "work",
            bin_dir=root / "bin",
            cdp_socket=root / "cdp.sock",
            rpc_socket=root / "rpc.sock",
            settings=settings,
        )
        try:
            await box.start()
        except ExecutorStartError as exc:
            raise ConfigError(f"The code sandbox does not start: {exc}. {_advice()}") from None
        commands = _commands(box)
        outcomes = await asyncio.gather(*(_run(box, lang, argv) for lang, argv in commands.items()))
        failed = {lang: said for lang, said in zip(commands, outcomes, strict=True) if said}
        if failed:
            said = "; ".join(failed.values())
            raise ConfigError(f"The code sandbox cannot run code: {said}. {_advice(list(failed))}")
    finally:
        if box is not None:
            await box.close()
        shutil.rmtree(root, ignore_errors=True)


def _commands(box: BoxLauncher) -> dict[str, list[str]]:
    """What each language's worker needs first, run the way the worker is run."""
    layout = box.layout
    commands = {"python": [layout.python, "-u", "-P", "-c", "import playwright.async_api"]}
    node = shutil.which("node")
    if node is not None:
        # Without its packages the node worker installs them on first use; node itself must run.
        needs = f"require({str(Path(layout.node_dir) / 'node_modules' / 'playwright-core')!r})"
        commands["node"] = [node, "-e", needs if node_installed() else "0"]
    commands["bash"] = ["bash", "-c", "exit 0"]
    return commands


async def _run(box: BoxLauncher, language: str, argv: list[str]) -> str:
    """ "" when ``argv`` ran and exited 0 in the box, else what went wrong."""
    env = {"PATH": box_path(), "HOME": box.layout.workdir, "TMPDIR": "/tmp", "LANG": "C.UTF-8"}
    try:
        child = await box.spawn(argv, env=env)
    except ExecutorStartError as exc:
        return f"{language}: {exc}"
    try:
        said = await asyncio.wait_for(child.stderr.read(), _RUN_TIMEOUT_S)
        await asyncio.wait_for(child.exited.wait(), _RUN_TIMEOUT_S)
    except TimeoutError:
        await child.kill()
        return f"{language}: `{' '.join(argv)}` did not finish within {_RUN_TIMEOUT_S:.0f} s"
    if child.returncode == 0:
        return ""
    tail = " ".join(said.decode(errors="replace").split())[-400:]
    return f"{language}: `{' '.join(argv)}` exited {child.returncode}: {tail or 'nothing said'}"


def _advice(failed: Sequence[str] = ()) -> str:
    """What to change, for the languages that failed (all of them when the box did not start)."""
    seen = ", ".join(runtime_prefixes()) or "none"
    parts = [
        "The box sees /usr and, read-only, this Python's and Node.js's installations (outside "
        f"/usr: {seen}), and no PYTHONPATH, user site-packages or home folder."
    ]
    if not failed or "python" in failed:
        parts.append(
            f"Install what python code needs into this interpreter: `{sys.executable} -m pip "
            "install playwright`."
        )
    if not failed or "node" in failed:
        parts.append(
            "Node.js must be installed in a folder of its own or under /usr, with the node "
            f"worker's packages: `npm ci --prefix {NODE_DIR}`."
        )
    parts.append(
        "Or set AGENT_SANDBOX=none to run code as the server's own user (trusted single-user "
        "mode only)."
    )
    return " ".join(parts)
