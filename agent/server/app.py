"""Building the FastAPI app: settings, session registry, routes, error handlers, lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent.config import Settings
from agent.errors import ConfigError, RequestError
from agent.server import cache_routes, cdp_proxy, live_view, routes, usage_routes
from agent.server.errors import SafeJSONResponse, error_response, install_error_handlers
from agent.server.forwarder import ReplicaForwarder
from agent.server.request_telemetry import RequestTelemetry
from agent.server.routes import require_api_key
from agent.server.trusted_host import HostCheck
from agent.service.browsers import SessionFactory
from agent.service.settings import ServerSettings
from agent.service.state import build_state
from agent.service.store import RedisStore

if TYPE_CHECKING:
    from agent.models.base import Model

__all__ = ["MAX_BODY_BYTES", "MAX_HEADER_BYTES", "create_app"]

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 2 * 1024 * 1024
"""Largest request body read; the biggest valid one (100,000 characters of code) is far less."""
MAX_HEADER_BYTES = 32 * 1024
"""Largest total size of a request's headers; SDKs send well under 1 KiB."""


def create_app(
    settings: ServerSettings | None = None,
    *,
    agent_settings: Settings | None = None,
    model: Model | None = None,
    session_factory: SessionFactory | None = None,
) -> FastAPI:
    """The Firecrawl v2-compatible app.

    Args:
        settings: how the server listens and bounds sessions; from ``AGENT_*`` when None.
        agent_settings: model and browser settings; from the environment when None.
        model: the planner's model; when None it is created from ``agent_settings.model`` on
            the first prompt (tests pass a ``ScriptedModel`` here).
        session_factory: starts a session's browser; a local Chromium from ``agent_settings``
            when None.
    """
    state = build_state(
        settings, agent_settings=agent_settings, model=model, session_factory=session_factory
    )
    registry = state.registry
    store = registry.store

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if isinstance(store, RedisStore):
            try:
                await store.ping()
            except Exception as exc:
                raise ConfigError(
                    f"AGENT_REDIS_URL ({state.settings.redis_url}) cannot be reached: {exc}. "
                    "Start Redis or fix the URL, or unset it to keep sessions in this process."
                ) from exc
        await state.start()
        try:
            yield
        finally:
            await state.close()

    app = FastAPI(
        title="browser-agent",
        summary="Firecrawl v2-compatible scrape and interact API over a real Chromium.",
        lifespan=lifespan,
        default_response_class=SafeJSONResponse,
    )
    app.state.server = state
    install_error_handlers(app)
    app.add_middleware(ReplicaForwarder)
    app.add_middleware(_BodySizeLimit, max_bytes=MAX_BODY_BYTES)
    app.add_middleware(HostCheck)  # before anything builds a link or forwards
    # The outermost: every request has its id, span and count, refused ones too.
    app.add_middleware(RequestTelemetry, telemetry=state.telemetry, metrics=state.metrics)
    app.include_router(routes.router)
    app.include_router(usage_routes.router)
    app.include_router(cache_routes.router)
    app.include_router(live_view.router)
    app.include_router(cdp_proxy.router)

    @app.get("/health", include_in_schema=False)
    async def health() -> dict[str, Any]:
        return {
            "success": True,
            "sessions": len(registry),
            "browsersReady": registry.browsers_ready,
        }

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        """Prometheus metrics, behind the API keys unless AGENT_METRICS_PUBLIC=true."""
        if state.metrics is None:
            raise RequestError(
                "NOT_FOUND", "Metrics are off on this server (AGENT_METRICS=false): set it to true."
            )
        if not state.settings.metrics_public:
            await require_api_key(request)
        body, content_type = state.metrics.render(request.headers.get("accept"))
        return Response(body, media_type=content_type)

    return app


class _BodySizeLimit:
    """Refuse a request whose headers are larger than ``MAX_HEADER_BYTES`` or whose body is larger
    than ``max_bytes``: at once when its Content-Length says so, else (a chunked body) as soon as
    that much has been read."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope.get("headers") or []
        header_bytes = sum(len(name) + len(value) for name, value in headers)
        if header_bytes > MAX_HEADER_BYTES:
            response = error_response(
                "HEADERS_TOO_LARGE",
                f"Request headers of {header_bytes} bytes are larger than the "
                f"{MAX_HEADER_BYTES} bytes this server accepts.",
            )
            await response(scope, receive, send)
            return
        declared = dict(headers).get(b"content-length", b"0")
        if declared.isdigit() and int(declared) > self.max_bytes:
            response = error_response(
                "PAYLOAD_TOO_LARGE",
                f"Request body of {int(declared)} bytes is larger than the "
                f"{self.max_bytes} bytes this server accepts.",
            )
            await response(scope, receive, send)
            return
        received = 0

        async def bounded_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Raised while the route reads its body: answered as a 413 in Firecrawl's
                    # shape by the HTTPException handler.
                    raise StarletteHTTPException(
                        413,
                        f"Request body is larger than the {self.max_bytes} bytes this server "
                        "accepts.",
                    )
            return message

        await self.app(scope, bounded_receive, send)
