"""What the layers below the faces report to: spans, and the figures an app counts.

The planner, the model calls and the code executors do not know which app (if any) serves them.
They ask :func:`current_telemetry` and report to what it returns: a :class:`Telemetry` holding
the app's tracer (None when tracing is off) and its :class:`Recorder` (the app's metrics and
usage counts; None when nothing counts). A face sets it for what it runs (``use_telemetry``);
outside any face it is built once from the environment, traces only.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from agent.observability.tracing import capture_content, tracer_provider_from_env

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span, Tracer

__all__ = [
    "ModelCall",
    "Recorder",
    "SpanKindName",
    "Telemetry",
    "current_telemetry",
    "reset_telemetry",
    "use_telemetry",
]

SpanKindName = Literal["internal", "server", "client"]
AttributeValue = str | bool | int | float | list[str] | list[int] | list[float] | list[bool]


@dataclass(frozen=True)
class ModelCall:
    """One request to a model, as the GenAI metrics count it."""

    provider: str
    model: str
    operation: str
    input_tokens: int
    output_tokens: int
    duration_s: float
    error_type: str | None = None


class Recorder(Protocol):
    """Where the figures of one app go (its Prometheus metrics, its usage per key)."""

    def model_call(self, call: ModelCall) -> None: ...

    def tool_call(self, tool: str, outcome: str) -> None: ...

    def code_run(self, language: str, *, killed: bool) -> None: ...


_NO_SPAN: contextlib.nullcontext[None] = contextlib.nullcontext()


class Telemetry:
    """An app's tracer and recorder; either may be None (then reporting to it costs nothing).

    Args:
        tracer_provider: exports the spans; None: no tracing.
        recorder: counts model calls, tool calls and code runs; None: nothing counts them.
        capture_content: whether prompts, answers and tool arguments go into spans.
    """

    def __init__(
        self,
        tracer_provider: TracerProvider | None = None,
        recorder: Recorder | None = None,
        *,
        capture_content: bool = False,
    ) -> None:
        self.provider = tracer_provider
        self.tracer: Tracer | None = (
            tracer_provider.get_tracer("browser-agent") if tracer_provider is not None else None
        )
        self.recorder = recorder
        self.capture_content = capture_content

    @classmethod
    def from_env(cls, recorder: Recorder | None = None, *, owned: bool = False) -> Telemetry:
        """Tracing as the ``OTEL_*`` variables say (none unless an OTLP endpoint is set).

        ``owned``: the caller calls :meth:`shutdown` at its end (an app does); otherwise the
        spans still queued are sent when the process exits.
        """
        provider = tracer_provider_from_env(shutdown_on_exit=not owned)
        return cls(provider, recorder, capture_content=capture_content())

    def span(
        self,
        name: str,
        *,
        kind: SpanKindName = "internal",
        attributes: Mapping[str, AttributeValue] | None = None,
    ) -> contextlib.AbstractContextManager[Span | None]:
        """A span around a block, current inside it (its children's parent); ``None`` inside
        when tracing is off. An exception leaving the block marks it failed with ``error.type``
        (the exception's class, never its message, which may hold what a log line may not)."""
        if self.tracer is None:
            return _NO_SPAN
        return _span(self.tracer, name, kind, attributes)

    def shutdown(self) -> None:
        """Send the spans still queued and stop exporting (at the app's end)."""
        if self.provider is not None:
            self.provider.shutdown()


@contextlib.contextmanager
def _span(
    tracer: Tracer, name: str, kind: SpanKindName, attributes: Mapping[str, Any] | None
) -> Iterator[Span]:
    from opentelemetry.trace import SpanKind, StatusCode

    kinds = {"internal": SpanKind.INTERNAL, "server": SpanKind.SERVER, "client": SpanKind.CLIENT}
    with tracer.start_as_current_span(
        name,
        kind=kinds[kind],
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield span
        except BaseException as exc:
            span.set_attribute("error.type", type(exc).__name__)
            span.set_status(StatusCode.ERROR, type(exc).__name__)
            raise


_current: ContextVar[Telemetry | None] = ContextVar("agent_telemetry", default=None)
_default: Telemetry | None = None
_default_lock = threading.Lock()


def current_telemetry() -> Telemetry:
    """The telemetry of the app serving this context, else the process's own (traces as the
    environment says, nothing counted), built on first use."""
    telemetry = _current.get()
    if telemetry is not None:
        return telemetry
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Telemetry.from_env()
    return _default


def use_telemetry(telemetry: Telemetry) -> Token[Telemetry | None]:
    """Report to ``telemetry`` in this context (and the tasks it starts) from now on."""
    return _current.set(telemetry)


def reset_telemetry(token: Token[Telemetry | None]) -> None:
    """Undo a ``use_telemetry``."""
    _current.reset(token)
