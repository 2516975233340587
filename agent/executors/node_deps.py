"""The node executor's npm dependencies (playwright-core, acorn), installed next to its worker.

They live in ``agent/executors/node/`` with a committed ``package-lock.json``; ``node_modules`` is
not committed. Setup and CI install them with::

    npm ci --prefix agent/executors/node

``ensure_node_deps()`` does the same on first use when they are missing, so a developer machine
works without the step, but a server should not depend on that (it needs the npm registry).
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path

from agent.errors import ConfigError

__all__ = ["NODE_DIR", "ensure_node_deps", "node_binary", "node_installed", "npm_ci"]

NODE_DIR = Path(__file__).parent / "node"
_REQUIRED = ("playwright-core", "acorn")
_install_lock = threading.Lock()


def node_binary() -> str:
    """The ``node`` executable, or a ``ConfigError`` saying how to get one."""
    found = shutil.which("node")
    if not found:
        raise ConfigError(
            "The node executor needs Node.js 18 or newer on PATH; install it "
            "(`apt-get install nodejs npm`) or run code as python or bash instead."
        )
    return found


def node_installed() -> bool:
    """Whether the node worker's npm packages are installed."""
    return all((NODE_DIR / "node_modules" / name / "package.json").is_file() for name in _REQUIRED)


def ensure_node_deps(*, install: bool = True) -> Path:
    """Return the worker's folder, running ``npm ci`` there first if its packages are missing."""
    if node_installed():
        return NODE_DIR
    if not install:
        raise ConfigError(
            f"The node executor's packages are not installed: run `npm ci --prefix {NODE_DIR}`."
        )
    with _install_lock:
        if node_installed():
            return NODE_DIR
        npm = shutil.which("npm")
        if not npm:
            raise ConfigError(
                f"The node executor's packages are missing and npm is not on PATH: install npm, "
                f"then run `npm ci --prefix {NODE_DIR}`."
            )
        status, tail = npm_ci(npm, NODE_DIR, timeout_s=300)
        if status != 0 or not node_installed():
            raise ConfigError(
                f"`npm ci --prefix {NODE_DIR}` failed (exit {status}); run it by "
                f"hand to see why. Its output ended with:\n{tail}"
            )
    return NODE_DIR


def npm_ci(npm: str, prefix: Path, *, timeout_s: float) -> tuple[int, str]:
    """Run ``npm ci`` in ``prefix`` (its lock file pins every package): its exit status and the
    end of its output, for the caller's error when it failed."""
    completed = subprocess.run(
        [npm, "ci", "--prefix", str(prefix), "--no-audit", "--no-fund"],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    return completed.returncode, (completed.stderr or completed.stdout).strip()[-1500:]
