"""What both faces of one server share: settings, sessions, profiles, usage, the model; and how
that is built (:func:`build_state`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agent.config import Settings, load_settings
from agent.models import create_model, model_keys
from agent.observability import Telemetry
from agent.observability.redaction import install_redaction
from agent.recipes import RecipeStore, open_recipe_store
from agent.service.accounting import AppRecorder, SessionCounter
from agent.service.browsers import SessionFactory, local_browser_factory, remote_browser_factory
from agent.service.metrics import LiveFigures, ServerMetrics
from agent.service.profiles import ProfileStore
from agent.service.registry import SessionRegistry
from agent.service.replicas import ReplicaCoordinator
from agent.service.settings import ServerSettings
from agent.service.store import open_store, replica_id
from agent.service.turns import ScrapeTurns
from agent.service.usage import UsageLedger
from agent.service.usage_store import open_usage_store

if TYPE_CHECKING:
    from agent.models.base import Model

__all__ = ["ServerState", "build_state"]


@dataclass
class ServerState:
    """The state of one server (its HTTP app's ``app.state.server``, or ``agent mcp``'s own)."""

    settings: ServerSettings
    agent_settings: Settings
    registry: SessionRegistry
    model_factory: Callable[[], Model]
    usage: UsageLedger
    metrics: ServerMetrics | None = None
    telemetry: Telemetry = field(default_factory=Telemetry)
    recipes: RecipeStore | None = None  # the prompt cache's store, see agent.prompt_cache
    turns: ScrapeTurns = field(init=False)
    replicas: ReplicaCoordinator = field(init=False)
    _model: Model | None = None
    _model_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        self.turns = ScrapeTurns(
            self.settings.scrape_concurrency, wait_s=self.settings.queue_timeout
        )
        self.replicas = ReplicaCoordinator(self.registry)

    async def start(self) -> None:
        """Start what runs in the background (inside the event loop): the usage counts' writer
        (a ConfigError when they cannot be kept), the reaper, the spare browsers, and with a
        shared store the heartbeat and the sweeper."""
        await self.usage.start()
        self.registry.start()
        self.replicas.start()

    async def close(self) -> None:
        """Close every session, then write the usage counts and send the spans still queued."""
        try:
            await self.replicas.stop()
            await self.registry.close_all()
        finally:
            await self.usage.close()
            if self.recipes is not None:
                await self.recipes.close()
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


def build_state(
    settings: ServerSettings | None = None,
    *,
    agent_settings: Settings | None = None,
    model: Model | None = None,
    session_factory: SessionFactory | None = None,
) -> ServerState:
    """What a server's faces share: its settings, its session registry and its model.

    The HTTP app holds one as ``app.state.server``; ``agent mcp`` builds its own, so sessions
    over stdio get the same limits, profiles and planner as over HTTP. The caller starts it
    (``state.start()``, inside its event loop) and closes it (``state.close()``).

    Args:
        settings: how the server listens and bounds sessions; from ``AGENT_*`` when None.
        agent_settings: model and browser settings; from the environment when None.
        model: the planner's model; when None it is created from ``agent_settings.model`` on
            the first prompt (tests pass a ``ScriptedModel`` here).
        session_factory: starts a session's browser; a local Chromium from ``agent_settings``
            when None.
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
        or local_browser_factory(agent_settings, egress=settings.block_private_addresses),
        remote_factory=remote_browser_factory(agent_settings),
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
    state.recipes = open_recipe_store(
        settings.redis_url, agent_settings.data_dir, ttl_s=agent_settings.prompt_cache_ttl
    )
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
