"""Errors only the evals raise, below the library's ``AgentError`` (see ``agent/errors.py``)::

AgentError
└── EvalError
    ├── CassetteMismatchError  replaying a cassette met a request it did not record
    ├── SolverError            a MiniWoB++ solver could not read its page or act on it
    └── ProtocolError          a request to the fake provider broke a rule the real API has
"""

from __future__ import annotations

from agent.errors import AgentError

__all__ = ["CassetteMismatchError", "EvalError", "ProtocolError", "SolverError"]


class EvalError(AgentError):
    """Base of the errors the evals raise."""


class CassetteMismatchError(EvalError):
    """A replayed cassette has no recording for a request: the prompt or page changed."""


class SolverError(EvalError):
    """A solver could not find what it needed, or a tool call failed."""


class ProtocolError(EvalError):
    """A request broke a rule the real provider API enforces (answered with a 400)."""
