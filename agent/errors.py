"""Every exception the library raises on purpose, in one tree.

Errors a model can fix (a stale ref, a covered element, a bad argument) are *not* here: the tools
return them to the model as text. What is here is what a program or an operator must handle::

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
    └── CassetteMismatchError    replaying a cassette met a request it did not record
"""

from __future__ import annotations

__all__ = [
    "AgentError",
    "BrowserError",
    "BrowserLaunchError",
    "BrowserNotFoundError",
    "CassetteMismatchError",
    "ConfigError",
    "ModelAuthError",
    "ModelError",
    "ModelRateLimitError",
    "ModelResponseError",
    "ModelTimeoutError",
    "SessionLostError",
    "StaleRefError",
    "ToolError",
    "UnknownRefError",
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


class CassetteMismatchError(AgentError):
    """A replayed cassette has no recording for a request: the prompt or page changed."""
