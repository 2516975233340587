"""Retrying provider calls and turning SDK exceptions into the library's ModelError tree.

The official SDKs raise the same shapes of exception: a status error with ``status_code`` and
``body``, a timeout error, and a connection error. Backends pass their SDK's classes in
:class:`SdkErrors`, and what the provider table says about the provider in :class:`ProviderInfo`,
so this module imports no SDK and names no provider.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from agent.errors import (
    ModelAuthError,
    ModelError,
    ModelRateLimitError,
    ModelTimeoutError,
)

__all__ = ["ProviderInfo", "RetryPolicy", "SdkErrors", "call_with_retries"]

T = TypeVar("T")

_RETRYABLE_STATUS = frozenset({408, 409, 425, 429})
_DETAIL_LIMIT = 300


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to back off on 429, 5xx, timeouts and connection errors.

    Backoff doubles from ``initial_backoff_s`` up to ``max_backoff_s`` with jitter; a
    ``Retry-After`` header is honoured but capped at ``max_backoff_s`` (tests set both near 0).
    """

    retries: int = 3
    initial_backoff_s: float = 0.5
    max_backoff_s: float = 8.0

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        base = min(self.max_backoff_s, self.initial_backoff_s * 2.0 ** (attempt - 1))
        if retry_after is not None:
            return min(self.max_backoff_s, max(base, retry_after))
        return base * (0.5 + random.random() / 2)


@dataclass(frozen=True)
class SdkErrors:
    """The exception classes of one provider SDK."""

    status: type[Exception]
    timeout: type[Exception]
    connection: type[Exception]


@dataclass(frozen=True)
class ProviderInfo:
    """What error messages need to say where a request went and what to check."""

    provider: str
    model_name: str
    base_url: str
    key_env: str | None
    """Environment variable holding the key, or None for a provider without one."""
    key_sent: bool = True
    """Whether a key went with the request (a local server may need none)."""
    hosted: bool = False
    """The provider's own API (see ``ProviderSpec.hosted``): errors then do not suggest
    checking a local server."""
    start_hint: str = ""
    """Said after "check that the server is running": how to start it."""


async def call_with_retries(
    call: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    errors: SdkErrors,
    info: ProviderInfo,
    timeout_s: float,
) -> T:
    """Run ``call``, retrying transient failures; raise a ModelError subclass when it gives up."""

    def retryable(exc: BaseException) -> bool:
        if isinstance(exc, errors.status):
            status = _status(exc)
            return status in _RETRYABLE_STATUS or status >= 500
        return isinstance(exc, (errors.timeout, errors.connection))

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        return policy.backoff(state.attempt_number, _retry_after(exc))

    retrying = AsyncRetrying(
        retry=retry_if_exception(retryable),
        stop=stop_after_attempt(policy.retries + 1),
        wait=wait,
        reraise=True,
    )
    attempts = 0
    try:
        async for attempt in retrying:
            with attempt:
                attempts = attempt.retry_state.attempt_number
                return await call()
    except Exception as exc:
        if isinstance(exc, (errors.status, errors.timeout, errors.connection)):
            raise to_model_error(exc, errors, info, attempts, timeout_s) from exc
        raise
    raise AssertionError("unreachable: tenacity either returns or re-raises")


def to_model_error(
    exc: Exception, errors: SdkErrors, info: ProviderInfo, attempts: int, timeout_s: float
) -> ModelError:
    """Translate one SDK exception into the ModelError subclass that says what to do."""
    where = f"{info.provider} model {info.model_name!r} at {info.base_url}"
    tries = f"after {attempts} attempt{'s' if attempts != 1 else ''}"
    hosted = info.hosted
    if isinstance(exc, errors.timeout):
        return ModelTimeoutError(
            f"{where} did not answer within {timeout_s:g} s {tries}. Raise AGENT_MODEL_TIMEOUT "
            "if the model is just slow"
            + ("." if hosted else ", or check that the server is up and not overloaded."),
            provider=info.provider,
        )
    if isinstance(exc, errors.connection):
        cause = _one_line(str(exc.__cause__ or exc.__context__ or exc))
        if hosted:
            check = (
                f"check that this machine can reach {info.base_url} (network, proxy, firewall) "
                "and AGENT_BASE_URL if you set it"
            )
        else:
            check = (
                f"check AGENT_BASE_URL ({info.base_url}) and that the server is running"
                f"{info.start_hint}"
            )
        return ModelError(
            f"Could not connect to {where} {tries}: {cause}. To fix, {check}.",
            provider=info.provider,
        )
    status = _status(exc)
    kind, advice = _status_advice(status, info, tries)
    return kind(
        f"{where} answered HTTP {status}: {_detail(exc)}. {advice}",
        provider=info.provider,
        status=status,
    )


def _status_advice(status: int, info: ProviderInfo, tries: str) -> tuple[type[ModelError], str]:
    """The error an HTTP status becomes, and what to do about it."""
    hosted = info.hosted
    if status in (401, 403):
        if info.key_sent:
            key = f"{info.key_env} holds a valid key for this provider"
        else:
            set_one = f" (or set {info.key_env} for it)" if info.key_env else ""
            key = f"the server accepts requests without a key{set_one}"
        return ModelAuthError, f"The credentials were rejected: check that {key}."
    if status == 404:
        api_root = "" if hosted else ", and that AGENT_BASE_URL is the API root (often .../v1)"
        return ModelError, (
            f"Check the model name {info.model_name!r} in AGENT_MODEL is right and available "
            f"to this account or server{api_root}."
        )
    if status == 429:
        return ModelRateLimitError, (
            f"Still rate limited {tries}: wait and try again, send fewer requests at once, or "
            "check the account's quota and billing (AGENT_MODEL_RETRIES sets retries)."
        )
    if status >= 500:
        check = "try again later" if hosted else "check the server's logs"
        return ModelError, (
            f"The provider kept failing {tries}; it may be down or overloaded: {check}, and "
            f"check AGENT_BASE_URL ({info.base_url}) points at a working server."
        )
    return ModelError, (
        f"The provider rejected the request: check that model {info.model_name!r} supports "
        "tool calling and accepts these settings (models that accept only their default "
        "temperature need AGENT_TEMPERATURE=none)."
    )


def _status(exc: BaseException) -> int:
    status = getattr(exc, "status_code", 0)
    return status if isinstance(status, int) else 0


def _detail(exc: Exception) -> str:
    body: Any = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return _one_line(inner["message"])
        if isinstance(inner, str):
            return _one_line(inner)
    message = getattr(exc, "message", None)
    return _one_line(message if isinstance(message, str) else str(exc))


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _DETAIL_LIMIT else text[: _DETAIL_LIMIT - 1] + "…"


def _retry_after(exc: BaseException | None) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    value = headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
