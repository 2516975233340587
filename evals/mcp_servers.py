"""The two MCP servers the MCP benchmark compares, as stdio launch parameters: ours
(``agent mcp``) and Microsoft's Playwright MCP (npm ``@playwright/mcp``, pinned in
``evals/playwright-mcp/package.json``), both headless on the same Chromium binary.

Playwright MCP is installed on first use with ``npm ci`` (it needs the npm registry once);
``node_modules`` is never committed.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path

from mcp import StdioServerParameters

from agent.browser.launch import find_chromium
from agent.executors.node_deps import npm_ci
from evals.errors import EvalError

__all__ = [
    "PLAYWRIGHT_MCP_DIR",
    "ensure_playwright_mcp",
    "offline_chromium",
    "our_server",
    "playwright_mcp_server",
]

PLAYWRIGHT_MCP_DIR = Path(__file__).parent / "playwright-mcp"
_BIN = PLAYWRIGHT_MCP_DIR / "node_modules" / ".bin" / "playwright-mcp"
_REPO = Path(__file__).resolve().parents[1]


def ensure_playwright_mcp() -> Path:
    """The pinned ``playwright-mcp`` executable, running ``npm ci`` first if it is missing."""
    if _BIN.is_file():
        return _BIN
    npm = shutil.which("npm")
    if not npm:
        raise EvalError(
            f"Playwright MCP is not installed and npm is not on PATH: install Node.js and npm, "
            f"then run `npm ci --prefix {PLAYWRIGHT_MCP_DIR}`."
        )
    print(f"installing Playwright MCP: npm ci --prefix {PLAYWRIGHT_MCP_DIR}", file=sys.stderr)
    status, tail = npm_ci(npm, PLAYWRIGHT_MCP_DIR, timeout_s=600)
    if status != 0 or not _BIN.is_file():
        raise EvalError(
            f"`npm ci --prefix {PLAYWRIGHT_MCP_DIR}` failed (exit {status}); run it "
            f"by hand to see why. Its output ended with:\n{tail}"
        )
    return _BIN


_OFFLINE_RESOLVER = "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"
"""Every host name but loopback's is "not found" at once. This machine's DNS answers that for
every outside name too, but drops about one query in six of a burst (50 of 60 answered), and
Chromium asks again after 1 s, then 5 s: a corpus page's load event then came 5-10 s late on
whichever server's turn the dropped queries fell, a lottery the benchmark charged to it."""


def offline_chromium(folder: Path) -> str:
    """An executable in ``folder`` that runs the configured Chromium with every outside host
    name "not found" at once (``_OFFLINE_RESOLVER``): the same offline pages for both servers,
    without this machine's dropped DNS queries."""
    chromium = find_chromium(os.environ.get("AGENT_BROWSER_PATH"))
    wrapper = folder / "chromium-offline"
    wrapper.write_text(
        f"#!/bin/sh\nexec {shlex.quote(chromium)} "
        f'{shlex.quote("--host-resolver-rules=" + _OFFLINE_RESOLVER)} "$@"\n'
    )
    wrapper.chmod(0o755)
    return str(wrapper)


def our_server(chromium: str | None = None) -> StdioServerParameters:
    """``python -m agent mcp`` from this checkout, with the caller's environment; on
    ``chromium`` (an executable) when given, else the configured Chromium."""
    env = dict(os.environ)
    if chromium is not None:
        env["AGENT_BROWSER_PATH"] = chromium
    return StdioServerParameters(
        command=sys.executable, args=["-m", "agent", "mcp"], cwd=str(_REPO), env=env
    )


def playwright_mcp_server(output_dir: Path, chromium: str | None = None) -> StdioServerParameters:
    """Playwright MCP, headless, with a fresh profile per run, on ``chromium`` when given, else
    our configured Chromium; the files it writes (snapshots of actions, console logs) go to
    ``output_dir``."""
    return StdioServerParameters(
        command=str(ensure_playwright_mcp()),
        args=[
            "--executable-path", chromium or find_chromium(os.environ.get("AGENT_BROWSER_PATH")),
            "--headless", "--isolated", "--no-sandbox",
            "--output-dir", str(output_dir),
        ],
        cwd=str(output_dir),
        env=dict(os.environ),
    )  # fmt: skip
