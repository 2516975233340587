"""OpenTelemetry traces, set up from the standard ``OTEL_*`` variables, or not at all.

Tracing is on only when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``)
is set, and neither ``OTEL_SDK_DISABLED=true`` nor ``OTEL_TRACES_EXPORTER=none`` says otherwise.
Then spans go over OTLP/HTTP, batched, with everything else the SDK reads from the environment
(``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_EXPORTER_OTLP_HEADERS``,
``OTEL_TRACES_SAMPLER``, ``OTEL_BSP_*``, ...). Otherwise the SDK is not even imported, and every
span this project would make costs one ``if``.

Each caller gets a tracer provider of its own rather than the process-global one, so two apps
in one process (replicas in a test) never share or fight over it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

__all__ = ["SERVICE_NAME", "capture_content", "tracer_provider_from_env", "tracing_wanted"]

SERVICE_NAME = "browser-agent"
"""The ``service.name`` of the spans unless ``OTEL_SERVICE_NAME`` (or the resource attributes)
name another."""

_CAPTURE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"


def tracing_wanted(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the environment asks for traces to be exported."""
    env = os.environ if environ is None else environ
    endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    if not (endpoint and endpoint.strip()):
        return False
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = env.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower()
    return exporters != "none"


def tracer_provider_from_env(*, shutdown_on_exit: bool = True) -> TracerProvider | None:
    """A tracer provider exporting over OTLP/HTTP as the ``OTEL_*`` variables say; None when
    they do not ask for traces. ``shutdown_on_exit=False`` for an owner that shuts it down
    itself (an app, at its end)."""
    if not tracing_wanted():
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    named = os.environ.get("OTEL_SERVICE_NAME") or "service.name=" in os.environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    )
    resource = Resource.create({} if named else {"service.name": SERVICE_NAME})
    provider = TracerProvider(resource=resource, shutdown_on_exit=shutdown_on_exit)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def capture_content(environ: Mapping[str, str] | None = None) -> bool:
    """Whether prompts, answers and tool arguments may go into spans (off unless
    ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true``)."""
    env = os.environ if environ is None else environ
    return env.get(_CAPTURE, "").strip().lower() == "true"
