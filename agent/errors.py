"""Every exception the library raises on purpose, in one tree.

Errors a model can fix (a stale ref, a covered element, a bad argument) are raised as
``ToolError`` inside tools and reach the model as text, never the caller. What reaches a program
or an operator is one of these::

    AgentError
    ├── ConfigError              misconfiguration: missing key, unknown provider, bad setting
    ├── BrowserError
    │   ├── BrowserNotFoundError no Chromium binary could be found
    │   ├── BrowserLaunchError   the binary exists but did not start
    │   └── SessionLostError     the session's browser died or its page was closed
    ├── ToolError                a tool failed in a way the model can act on (also rendered as text)
    │   ├── StaleRefError        the ref named an element that is gone or changed
    │   └── UnknownRefError      the ref was never issued in this session
    ├── ModelError               the model backend failed after retries
    │   ├── ModelAuthError       401/403: the key is missing or wrong
    │   ├── ModelRateLimitError  429 after retries
    │   ├── ModelTimeoutError    no answer in time
    │   └── ModelResponseError   an answer the library cannot use
    ├── ExecutorStartError       a code executor (python or node worker) could not start
    ├── RequestError             a request a face refuses; its ``code`` names why (the HTTP
    │                            server answers one status per code, see agent/server/errors.py)
    └── ClientError              the command line's server refused a request or was unreachable

Errors that only the evals raise (a cassette with no answer, a solver that cannot read a page)
live in ``evals/errors.py``, below ``AgentError`` too.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AgentError",
    "BrowserError",
    "BrowserLaunchError",
    "BrowserNotFoundError",
    "ClientError",
    "ConfigError",
    "ExecutorStartError",
    "ModelAuthError",
    "ModelError",
    "ModelRateLimitError",
    "ModelResponseError",
    "ModelTimeoutError",
    "RequestError",
    "SessionLostError",
    "StaleRefError",
    "ToolError",
    "UnknownRefError",
    "first_line",
    "one_line",
]


class AgentError(Exception):
    """Base of every error this library raises on purpose."""


class ConfigError(AgentError):
    """A setting is missing or wrong; the message says which and what to set."""


class BrowserError(AgentError):
    """The browser could not be started or used."""


class BrowserNotFoundError(BrowserError):
    """No Chromium binary was found."""


class BrowserLaunchError(BrowserError):
    """A Chromium binary was found but did not start."""


class SessionLostError(BrowserError):
    """The session's browser process died or its page was closed."""


class ToolError(AgentError):
    """A tool could not do what was asked; the message is written for the model to act on."""


class StaleRefError(ToolError):
    """A ref named an element that no longer exists or has changed since the snapshot."""


class UnknownRefError(ToolError):
    """A ref that no snapshot in this session ever issued."""


class ModelError(AgentError):
    """The model backend failed; says which provider, which status and what to check."""

    def __init__(self, message: str, *, provider: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.provider = provider
        self.status = status


class ModelAuthError(ModelError):
    """The provider rejected the credentials (401/403)."""


class ModelRateLimitError(ModelError):
    """The provider kept answering 429 after every retry."""


class ModelTimeoutError(ModelError):
    """The provider did not answer within the timeout, after every retry."""


class ModelResponseError(ModelError):
    """The provider answered with something the library cannot use."""


class ExecutorStartError(AgentError):
    """A python or node worker did not start or did not attach to the browser."""


class RequestError(AgentError):
    """A request refused for a reason its ``code`` names (``SESSION_NOT_FOUND``, ...).

    Raised below the faces (session registry, profiles, scrape) and by the faces themselves;
    each face renders it its own way: the HTTP server as Firecrawl's error body with the one
    status its code has, the MCP server as an error result.

    Args:
        code: a stable, upper-case identifier of the reason.
        message: what went wrong and what to do about it.
        details: structured extras for the client (validation problems, counts).
        retry_after_s: when trying again later can succeed, after how many seconds.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        details: Any = None,
        retry_after_s: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details
        self.retry_after_s = retry_after_s


class ClientError(AgentError):
    """The server refused a request or could not be reached; the message says why."""


def first_line(exc: BaseException) -> str:
    """The first non-empty line of an exception's message, or its type's name if it has none.

    Playwright's messages run to a call log of many lines; the first says what happened.
    """
    for line in str(exc).splitlines():
        if line.strip():
            return line.strip()
    return type(exc).__name__


def one_line(exc: BaseException) -> str:
    """The whole message of an exception on one line (white space folded), or its type's name."""
    return " ".join(str(exc).split()) or type(exc).__name__
