"""Code execution against a session's browser: python, node and bash, each in a child process.

``await run_code(session, code, "python" | "node" | "bash", timeout_s)`` returns a ``CodeResult``
(stdout, stderr, result, exit_code, killed, truncated). Python and node run in warm workers
attached over CDP to that session's browser only, with ``page`` bound to its current page; bash
gets ``agent browser`` (snapshot, click @e2, ...) acting on the session's own page and refs.
See ``agent.executors.run`` for the design and ``agent.executors.node_deps`` for node's setup
(``npm ci --prefix agent/executors/node``).
"""

from __future__ import annotations

from agent.executors.browser_commands import BrowserCommands
from agent.executors.browser_rpc import SOCKET_ENV, TOKEN_ENV, BrowserRPC
from agent.executors.node_deps import NODE_DIR, ensure_node_deps
from agent.executors.result import (
    KILLED_EXIT_CODE,
    LANGUAGES,
    MAX_OUTPUT_BYTES,
    MAX_TIMEOUT_S,
    MIN_TIMEOUT_S,
    CodeResult,
    Language,
)
from agent.executors.run import SessionExecutors, executors_for, run_code, warm_up

__all__ = [
    "KILLED_EXIT_CODE",
    "LANGUAGES",
    "MAX_OUTPUT_BYTES",
    "MAX_TIMEOUT_S",
    "MIN_TIMEOUT_S",
    "NODE_DIR",
    "SOCKET_ENV",
    "TOKEN_ENV",
    "BrowserCommands",
    "BrowserRPC",
    "CodeResult",
    "Language",
    "SessionExecutors",
    "ensure_node_deps",
    "executors_for",
    "run_code",
    "warm_up",
]
