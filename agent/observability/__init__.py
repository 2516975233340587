"""What an operator sees of a running agent: the current request (its id, key name, session),
traces over OpenTelemetry, what the planner and executors report to count, and log formats.

It sits at the bottom of the layers, beside the settings, so the planner loop, the model calls
and the executors report spans and figures without knowing which face (if any) serves them.
"""

from __future__ import annotations

from agent.observability.context import (
    REQUEST_ID_HEADER,
    RequestInfo,
    begin_request,
    current_request,
    end_request,
    new_request_id,
    note_key,
    note_session,
    sane_request_id,
)
from agent.observability.logs import LOG_FORMATS, JsonFormatter, LogFormat, configure_logging
from agent.observability.telemetry import (
    ModelCall,
    Recorder,
    Telemetry,
    current_telemetry,
    use_telemetry,
)
from agent.observability.tracing import capture_content, tracing_wanted

__all__ = [
    "LOG_FORMATS",
    "REQUEST_ID_HEADER",
    "JsonFormatter",
    "LogFormat",
    "ModelCall",
    "Recorder",
    "RequestInfo",
    "Telemetry",
    "begin_request",
    "capture_content",
    "configure_logging",
    "current_request",
    "current_telemetry",
    "end_request",
    "new_request_id",
    "note_key",
    "note_session",
    "sane_request_id",
    "tracing_wanted",
    "use_telemetry",
]
