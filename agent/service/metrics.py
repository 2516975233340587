"""The server's Prometheus metrics, in a registry of the app's own (``/metrics``).

Every label takes values from a fixed set: routes are templates (``/v2/scrape/{scrape_id}/
interact``), never paths; statuses, error codes, modes, languages, end reasons and tool names
are the server's own (a tool the model made up is ``unknown``). The model's id is the one
configured. The OpenTelemetry GenAI client metrics carry their Prometheus names
(``gen_ai_client_token_usage``, ``gen_ai_client_operation_duration_seconds``) and buckets.

A registry per app, never the process's default one: several apps (replicas in a test) may
run in one process, each counting its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from agent.errors import BrowserError, ConfigError, ModelError, RequestError, SessionLostError
from agent.observability import ModelCall

__all__ = ["END_REASONS", "UNMATCHED", "LiveFigures", "ServerMetrics", "end_reason", "outcome_of"]

_DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
_HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0)
# The buckets the GenAI semantic conventions advise for these two histograms.
_TOKEN_BUCKETS = tuple(float(4**n) for n in range(13))  # 1 .. 16777216
_OPERATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24,
                      20.48, 40.96, 81.92)  # fmt: skip
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
UNMATCHED = "unmatched"
"""The route label of a request no route answered (a 404 for an unknown path)."""


END_REASONS = ("stopped", "ttl", "idle", "lost", "shutdown", "error")


def outcome_of(exc: BaseException) -> str:
    """A failed call's outcome label: the error code it is answered with."""
    if isinstance(exc, RequestError):
        return exc.code
    for kind, code in (
        (SessionLostError, "SESSION_LOST"),
        (BrowserError, "BROWSER_UNAVAILABLE"),
        (ModelError, "MODEL_BACKEND_ERROR"),
        (ConfigError, "CONFIG_ERROR"),
    ):
        if isinstance(exc, kind):
            return code
    return "cancelled" if isinstance(exc, asyncio.CancelledError) else "INTERNAL_ERROR"


def end_reason(reason: str) -> str:
    """Why a session ended, as a label: stopped, ttl, idle, lost, shutdown or error."""
    text = reason.lower()
    if "idle" in text:
        return "idle"
    if text.startswith("expired"):
        return "ttl"
    if "lost" in text or "went past" in text:  # its browser died, or was ended at its limit
        return "lost"
    if "shutdown" in text:
        return "shutdown"
    if text.startswith("stopped") or "client" in text:
        return "stopped"
    return "error"


@dataclass(frozen=True)
class LiveFigures:
    """What the gauges read when Prometheus scrapes: the state now, not a running count."""

    sessions: Callable[[], int]
    browsers_ready: Callable[[], int]
    queue_waiting: Callable[[], dict[str, int]]
    """Scrapes waiting, per line: ``turn`` (for the CPU), ``browser`` (for one to start)."""


class _LiveCollector(Collector):
    def __init__(self, live: LiveFigures) -> None:
        self.live = live

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "agent_sessions_active", "Browser sessions open on this replica.",
            value=self.live.sessions(),
        )  # fmt: skip
        yield GaugeMetricFamily(
            "agent_browsers_ready", "Started browsers in reserve, waiting for a scrape.",
            value=self.live.browsers_ready(),
        )  # fmt: skip
        waiting = GaugeMetricFamily(
            "agent_queue_waiting", "Scrapes waiting in line, per line.", labels=["queue"]
        )
        for queue, count in sorted(self.live.queue_waiting().items()):
            waiting.add_metric([queue], count)
        yield waiting


class ServerMetrics:
    """One app's metrics; also the :class:`~agent.observability.Recorder` half that counts."""

    def __init__(self, live: LiveFigures) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        reg = self.registry
        self.sessions_started = Counter(
            "agent_sessions_started", "Browser sessions opened.", registry=reg
        )
        self.sessions_ended = Counter(
            "agent_sessions_ended", "Browser sessions ended, by why.", ["reason"], registry=reg
        )
        self.scrape_duration = Histogram(
            "agent_scrape_duration_seconds",
            "Scrapes, by outcome (success or the error code), queueing included.",
            ["status"], buckets=_DURATION_BUCKETS, registry=reg,
        )  # fmt: skip
        self.interact_duration = Histogram(
            "agent_interact_duration_seconds",
            "Interact calls, by mode (prompt, code), language and outcome.",
            ["mode", "language", "status"], buckets=_DURATION_BUCKETS, registry=reg,
        )  # fmt: skip
        self.tool_calls = Counter(
            "agent_tool_calls", "Planner tool calls, by tool and outcome.", ["tool", "outcome"],
            registry=reg,
        )  # fmt: skip
        self.code_killed = Counter(
            "agent_code_killed", "Code calls killed at their timeout.", ["language"], registry=reg
        )
        self.http_requests = Counter(
            "agent_http_requests", "HTTP requests answered, by route template, method, status.",
            ["route", "method", "status"], registry=reg,
        )  # fmt: skip
        self.http_duration = Histogram(
            "agent_http_request_duration_seconds", "HTTP requests, by route template and method.",
            ["route", "method"], buckets=_HTTP_BUCKETS, registry=reg,
        )  # fmt: skip
        self.token_usage = Histogram(
            "gen_ai_client_token_usage", "Tokens per model request (OpenTelemetry GenAI).",
            ["gen_ai_token_type", "gen_ai_provider_name", "gen_ai_request_model",
             "gen_ai_operation_name"],
            buckets=_TOKEN_BUCKETS, registry=reg,
        )  # fmt: skip
        self.operation_duration = Histogram(
            "gen_ai_client_operation_duration_seconds",
            "Model requests' duration (OpenTelemetry GenAI).",
            ["gen_ai_provider_name", "gen_ai_request_model", "gen_ai_operation_name",
             "error_type"],
            buckets=_OPERATION_BUCKETS, registry=reg,
        )  # fmt: skip
        for reason in END_REASONS:  # every series from the start, so rate() sees the first end
            self.sessions_ended.labels(reason)
        reg.register(_LiveCollector(live))
        ProcessCollector(registry=reg)  # process_cpu_seconds_total, resident memory, open fds

    def render(self, accept: str | None) -> tuple[bytes, str]:
        """The exposition (Prometheus text, or OpenMetrics when asked) and its content type."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type

    # --- what the server counts ----------------------------------------------------------------

    def http_done(self, route: str | None, method: str, status: int, seconds: float) -> None:
        route = route or UNMATCHED
        method = method if method in _METHODS else "other"
        self.http_requests.labels(route, method, str(status)).inc()
        self.http_duration.labels(route, method).observe(seconds)

    def session_ended(self, reason: str) -> None:
        self.sessions_ended.labels(end_reason(reason)).inc()

    # --- what the planner, models and executors report -----------------------------------------

    def model_call(self, call: ModelCall) -> None:
        names = (call.provider, call.model, call.operation)
        if call.error_type is None:
            self.token_usage.labels("input", *names).observe(call.input_tokens)
            self.token_usage.labels("output", *names).observe(call.output_tokens)
        self.operation_duration.labels(*names, call.error_type or "").observe(call.duration_s)

    def tool_call(self, tool: str, outcome: str) -> None:
        self.tool_calls.labels(tool, outcome).inc()

    def code_run(self, language: str, *, killed: bool) -> None:
        if killed:
            self.code_killed.labels(language).inc()
