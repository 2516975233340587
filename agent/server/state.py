"""What every request handler of one server shares: settings, sessions, profiles, the model."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket

from agent.config import Settings
from agent.errors import RequestError
from agent.observability import Telemetry
from agent.server.metrics import ServerMetrics
from agent.server.registry import ServerSession, SessionRegistry
from agent.server.settings import ServerSettings
from agent.server.turns import ScrapeTurns
from agent.server.usage import UsageLedger

if TYPE_CHECKING:
    from agent.models.base import Model

__all__ = ["ServerState", "server_state", "session_of_socket"]


@dataclass
class ServerState:
    """The state of one app; ``app.state.server``."""

    settings: ServerSettings
    agent_settings: Settings
    registry: SessionRegistry
    model_factory: Callable[[], Model]
    usage: UsageLedger
    metrics: ServerMetrics | None = None
    telemetry: Telemetry = field(default_factory=Telemetry)
    turns: ScrapeTurns = field(init=False)
    _model: Model | None = None
    _model_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        self.turns = ScrapeTurns(
            self.settings.scrape_concurrency, wait_s=self.settings.queue_timeout
        )

    async def start(self) -> None:
        """Start what runs in the background (inside the event loop): the usage counts' writer
        (a ConfigError when they cannot be kept), the reaper, the spare browsers."""
        await self.usage.start()
        self.registry.start()

    async def close(self) -> None:
        """Close every session, then write the usage counts and send the spans still queued."""
        try:
            await self.registry.close_all()
        finally:
            await self.usage.close()
            await asyncio.to_thread(self.telemetry.shutdown)

    async def model(self) -> Model:
        """The planner's model, created on the first prompt (so a scrape-only server needs no
        model configured).

        Raises:
            ConfigError: no model is configured, or its key is missing.
        """
        if self._model is None:
            async with self._model_lock:
                if self._model is None:
                    self._model = self.model_factory()
        return self._model

    def base_url(self, connection: HTTPConnection) -> str:
        """The URL clients reach this server at, without a trailing slash."""
        if self.settings.public_url:
            return self.settings.public_url.rstrip("/")
        return str(connection.base_url).rstrip("/")


def server_state(connection: HTTPConnection) -> ServerState:
    state = connection.app.state.server
    assert isinstance(state, ServerState)
    return state


async def session_of_socket(websocket: WebSocket, scrape_id: str) -> ServerSession | None:
    """The live session a WebSocket's path names; None once the socket is closed with 4404
    (no such session), as the DevTools and live-view sockets answer."""
    try:
        return server_state(websocket).registry.get(scrape_id)
    except RequestError:
        await websocket.close(code=4404, reason="no such session")
        return None
