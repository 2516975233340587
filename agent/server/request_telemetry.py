"""The outermost middleware: each request's id, its server span and its count.

For every HTTP request and WebSocket:

* its id is the client's ``X-Request-Id`` when that is a sane token, else a new one; it is
  echoed on the response and goes with the request everywhere (log lines, spans, a replica it
  is forwarded to), through :mod:`agent.observability.context`;
* the app's telemetry is made current, so what the planner and executors report reaches this
  app's metrics, usage counts and tracer;
* with tracing on, a ``SERVER`` span covers it, a child of the client's ``traceparent`` when
  it sends one, named ``METHOD /route/{template}`` (never with an id or a query string);
* with metrics on, ``agent_http_requests_total`` counts it by route template, method and status.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent.observability import (
    REQUEST_ID_HEADER,
    RequestInfo,
    Telemetry,
    begin_request,
    end_request,
    new_request_id,
    sane_request_id,
    use_telemetry,
)
from agent.observability.telemetry import reset_telemetry
from agent.service.metrics import ServerMetrics

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer

__all__ = ["RequestTelemetry", "outgoing_headers"]

# Paths naming a session, with their route's template: a replica forwards these to the one that
# serves the session before any route is matched.
_SESSION_ROUTES = (
    (re.compile(r"^/v2/scrape/([^/]+)/interact$"), "/v2/scrape/{scrape_id}/interact"),
    (re.compile(r"^/v2/live/([^/]+)$"), "/v2/live/{scrape_id}"),
    (re.compile(r"^/v2/live/([^/]+)/ws$"), "/v2/live/{scrape_id}/ws"),
    (re.compile(r"^/v2/cdp/([^/]+)$"), "/v2/cdp/{scrape_id}"),
)
_REQUEST_ID = REQUEST_ID_HEADER.encode()


class RequestTelemetry:
    """ASGI middleware: see the module docstring."""

    def __init__(
        self, app: ASGIApp, *, telemetry: Telemetry, metrics: ServerMetrics | None
    ) -> None:
        self.app = app
        self.telemetry = telemetry
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope.get("headers") or []}
        given = headers.get(_REQUEST_ID, b"").decode("latin-1")
        method = str(scope.get("method", "WEBSOCKET"))
        info = RequestInfo(sane_request_id(given) or new_request_id(), method=method, scope=scope)
        path = scope.get("path", "")
        for pattern, template in _SESSION_ROUTES:
            if found := pattern.match(path):
                info.session_id, info.route_hint = found.group(1), template
                break
        request_token = begin_request(info)
        telemetry_token = use_telemetry(self.telemetry)
        echoed = (_REQUEST_ID, info.request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                info.status = int(message["status"])
                kept = [h for h in message.get("headers", []) if h[0].lower() != _REQUEST_ID]
                message = {**message, "headers": [*kept, echoed]}
            await send(message)

        try:
            with self._server_span(scope, headers, info) as span:
                await self.app(scope, receive, send_with_id)
                if span is not None:
                    _finish_span(span, info)
        finally:
            if self.metrics is not None and scope["type"] == "http":
                seconds = time.perf_counter() - info.started
                self.metrics.http_done(info.route, method, info.status or 500, seconds)
            reset_telemetry(telemetry_token)
            end_request(request_token)

    @contextlib.contextmanager
    def _server_span(
        self, scope: Scope, headers: dict[bytes, bytes], info: RequestInfo
    ) -> Iterator[Span | None]:
        tracer = self.telemetry.tracer
        if tracer is None or scope["type"] != "http":
            yield None
            return
        with _span(tracer, scope, headers, info) as span:
            yield span


@contextlib.contextmanager
def _span(
    tracer: Tracer, scope: Scope, headers: dict[bytes, bytes], info: RequestInfo
) -> Iterator[Span]:
    from opentelemetry import propagate
    from opentelemetry.trace import SpanKind

    carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in headers.items()}
    parent = propagate.extract(carrier)
    server = scope.get("server") or ("", 0)
    attributes: dict[str, Any] = {
        "http.request.method": info.method,
        "url.path": scope.get("path", ""),  # ids, yes; the query string (tokens), never
        "url.scheme": scope.get("scheme", "http"),
        "server.address": str(server[0]),
        "server.port": int(server[1] or 0),
        "agent.request_id": info.request_id,
    }
    with tracer.start_as_current_span(
        info.method, context=parent, kind=SpanKind.SERVER, attributes=attributes,
        record_exception=False,
    ) as span:  # fmt: skip
        yield span


def _finish_span(span: Span, info: RequestInfo) -> None:
    from opentelemetry.trace import StatusCode

    route = info.route
    if route is not None:
        span.update_name(f"{info.method} {route}")
        span.set_attribute("http.route", route)
    if info.status is not None:
        span.set_attribute("http.response.status_code", info.status)
        if info.status >= 500:
            span.set_status(StatusCode.ERROR)
            span.set_attribute("error.type", str(info.status))
    if info.key_name:
        span.set_attribute("agent.api_key.name", info.key_name)
    if info.session_id:
        span.set_attribute("agent.session.id", info.session_id)


def outgoing_headers(telemetry: Telemetry, info: RequestInfo | None) -> dict[str, str]:
    """What a request forwarded to another replica carries of this one: its id, and (tracing
    on) the current span as ``traceparent``/``tracestate``."""
    carried: dict[str, str] = {}
    if info is not None:
        carried[REQUEST_ID_HEADER] = info.request_id
    if telemetry.tracer is not None:
        from opentelemetry import propagate

        propagate.inject(carried)
    return carried
