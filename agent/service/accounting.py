"""Where what happens in an app is counted: the metrics (when on) and the usage per key.

:class:`AppRecorder` is what the planner, the model calls and the executors report to (through
``agent.observability``): model tokens go to the key of the request that made the call.
:class:`SessionCounter` hears the registry open and end sessions: the metrics count them, and a
session's end charges what is left of its interact minutes.
"""

from __future__ import annotations

from agent.observability import ModelCall, current_request
from agent.service.keys import ANONYMOUS
from agent.service.metrics import ServerMetrics
from agent.service.usage import UsageLedger

__all__ = ["AppRecorder", "SessionCounter", "current_key"]


def current_key() -> str:
    """The name of the key the current request came with (``anonymous`` on an open server, or
    outside any request: ``agent mcp`` over stdio)."""
    info = current_request()
    return info.key_name if info is not None and info.key_name else ANONYMOUS


class AppRecorder:
    """An app's :class:`~agent.observability.Recorder`."""

    def __init__(self, metrics: ServerMetrics | None, usage: UsageLedger) -> None:
        self.metrics = metrics
        self.usage = usage

    def model_call(self, call: ModelCall) -> None:
        if self.metrics is not None:
            self.metrics.model_call(call)
        self.usage.add(current_key(), tokens=call.input_tokens + call.output_tokens)

    def tool_call(self, tool: str, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.tool_call(tool, outcome)

    def code_run(self, language: str, *, killed: bool) -> None:
        if self.metrics is not None:
            self.metrics.code_run(language, killed=killed)


class SessionCounter:
    """Told by the registry when a session opens and ends (see ``SessionRegistry.listeners``)."""

    def __init__(self, metrics: ServerMetrics | None, usage: UsageLedger) -> None:
        self.metrics = metrics
        self.usage = usage

    def session_opened(self, session_id: str) -> None:
        if self.metrics is not None:
            self.metrics.sessions_started.inc()

    def session_ended(self, session_id: str, reason: str) -> None:
        if self.metrics is not None:
            self.metrics.session_ended(reason)
        self.usage.session_ended(session_id)
