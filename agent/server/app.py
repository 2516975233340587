"""Building the FastAPI app: settings, session registry, routes, error handlers, lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent.browser.box import BoxOptions
from agent.browser.providers import Endpoint, open_browser
from agent.config import Settings, load_settings
from agent.errors import ConfigError, RequestError
from agent.models import create_model, model_keys
from agent.observability import Telemetry
from agent.server import cdp_proxy, live_view, routes, usage_routes
from agent.server.accounting import AppRecorder, SessionCounter
from agent.server.errors import SafeJSONResponse, error_response, install_error_handlers
from agent.server.metrics import LiveFigures, ServerMetrics
from agent.server.profiles import ProfileStore
from agent.server.redaction import install_redaction
from agent.server.registry import RemoteFactory, SessionFactory, SessionRegistry
from agent.server.replicas import ReplicaForwarder
from agent.server.request_telemetry import RequestTelemetry
from agent.server.routes import require_api_key
from agent.server.scrape import ServedBrowserSession
from agent.server.settings import ServerSettings
from agent.server.state import ServerState
from agent.server.store import RedisStore, open_store, replica_id
from agent.server.trusted_host import HostCheck
from agent.server.usage import UsageLedger
from agent.server.usage_store import open_usage_store

if TYPE_CHECKING:
    from agent.browser.session import BrowserSession
    from agent.models.base import Model

__all__ = [
    "MAX_BODY_BYTES", "MAX_HEADER_BYTES", "bound_downloads", "build_state", "create_app"
]  # fmt: skip

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


def build_state(
    settings: ServerSettings | None = None,
    *,
    agent_settings: Settings | None = None,
    model: Model | None = None,
    session_factory: SessionFactory | None = None,
) -> ServerState:
    """What a server's faces share: its settings, its session registry and its model.

    The HTTP app holds one as ``app.state.server``; ``agent mcp`` builds its own, so sessions
    over stdio get the same limits, profiles and planner as over HTTP. Arguments as for
    :func:`create_app`. The caller starts the registry (``registry.start()``, inside its event
    loop) and closes it (``registry.close_all()``).
    """
    settings = settings if settings is not None else ServerSettings()
    agent_settings = agent_settings if agent_settings is not None else load_settings()
    install_redaction(
        [
            *(key.get_secret_value() for key in settings.api_keys if key),
            *model_keys(agent_settings),  # every provider's key, from the provider table
            *(key.value.decode() for key in settings.keys()),  # a named key's key alone
        ]
    )
    store = open_store(settings.redis_url)
    registry = SessionRegistry(
        settings,
        ProfileStore(settings.profiles_dir, leases=store),
        session_factory
        or _local_browser_factory(agent_settings, egress=settings.block_private_addresses),
        remote_factory=_remote_browser_factory(agent_settings),
        store=store,
        replica=replica_id(settings.own_url()) if store.shared else "local",
    )
    resolved_settings = agent_settings

    def model_factory() -> Model:
        if model is not None:
            return model
        return create_model(resolved_settings.require_model(), settings=resolved_settings)

    usage = UsageLedger(
        open_usage_store(settings.redis_url, agent_settings.data_dir), settings.key_budgets
    )
    state = ServerState(settings, agent_settings, registry, model_factory, usage)
    if settings.metrics:
        state.metrics = ServerMetrics(
            LiveFigures(
                sessions=lambda: len(registry),
                browsers_ready=lambda: registry.browsers_ready,
                queue_waiting=lambda: {
                    "turn": state.turns.waiting,
                    "browser": registry.browsers_waiting,
                },
            )
        )
    state.telemetry = Telemetry.from_env(AppRecorder(state.metrics, usage), owned=True)
    registry.listeners.append(SessionCounter(state.metrics, usage))
    return state


def _remote_browser_factory(agent_settings: Settings) -> RemoteFactory:
    async def open_remote(endpoint: Endpoint, context_id: str | None) -> BrowserSession:
        handle = await open_browser(
            endpoint, context_id=context_id, timeout_s=agent_settings.navigation_timeout
        )
        return bound_downloads(
            ServedBrowserSession(
                handle,
                action_timeout_s=agent_settings.action_timeout,
                navigation_timeout_s=agent_settings.navigation_timeout,
            ),
            agent_settings,
        )

    return open_remote


def _local_browser_factory(agent_settings: Settings, *, egress: bool) -> SessionFactory:
    # A box per browser (AGENT_BROWSER_SANDBOX); egress through its checkpoint when private
    # addresses are blocked.
    box = BoxOptions.from_settings(agent_settings, egress=egress)

    async def start() -> BrowserSession:
        session = await ServedBrowserSession.start(
            executable=str(agent_settings.browser_path) if agent_settings.browser_path else None,
            headless=agent_settings.headless,
            action_timeout_s=agent_settings.action_timeout,
            navigation_timeout_s=agent_settings.navigation_timeout,
            box=box,
        )
        return bound_downloads(session, agent_settings)

    return start


def bound_downloads(session: BrowserSession, agent_settings: Settings) -> BrowserSession:
    """Give a session's browser the download limits of its code: no file larger than
    AGENT_SANDBOX_FILE_SIZE_MB, no more in all than AGENT_SANDBOX_TMP_MB (at least one file)."""
    file_bytes = agent_settings.sandbox_file_size_mb * 1024 * 1024
    quota = max(file_bytes, agent_settings.sandbox_tmp_mb * 1024 * 1024)
    session.handle.router.limit_downloads(file_bytes, quota)
    return session


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
