"""What the backends built on an official SDK share: the client, retries and error mapping.

A wire module (``openai.py``, ``anthropic.py``) subclasses :class:`SdkModel` and writes only what
is its own: its SDK's client class and exceptions, :meth:`SdkModel.send` (a neutral request as
one SDK call) and :meth:`SdkModel.parse` (the SDK's answer as a neutral response). Making the
client, retrying, turning SDK exceptions into the ModelError tree with advice from the provider
table, the model id and closing are done here once.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar, Generic, Protocol, Self, TypeVar

from agent.messages import ModelResponse
from agent.models.protocol import ModelBase, ModelRequest
from agent.models.providers import ModelOptions, provider_spec
from agent.models.retry import ProviderInfo, RetryPolicy, SdkErrors, call_with_retries

__all__ = ["SdkClient", "SdkModel"]

# A server that needs no key (a local one) still gets one: the SDKs insist.
_NO_KEY = "no-key-needed"


class SdkClient(Protocol):
    """What this module needs of an SDK's async client."""

    @property
    def base_url(self) -> Any: ...

    async def close(self) -> None: ...


ClientT = TypeVar("ClientT", bound=SdkClient)
AnswerT = TypeVar("AnswerT")


class SdkModel(ModelBase, Generic[ClientT, AnswerT]):
    """A model behind a provider's official SDK client.

    Args:
        model_name: the provider's model name, e.g. ``gpt-4.1-mini`` or ``claude-sonnet-4-6``.
        api_key: the key the client sends; None where the server needs none.
        base_url: API root such as ``http://127.0.0.1:11434/v1``; None for the SDK's default.
        provider: its row in the provider table (``agent.models.providers``); names errors and
            the model id. Defaults to the wire's own provider.
        timeout_s: default per-request timeout (``ModelSettings.timeout_s`` overrides it).
        retry: backoff for 429, 5xx, timeouts and connection errors.
        client: a ready SDK client, e.g. for tests; the connection arguments are then unused.
        http_client: an ``AsyncClient`` of the SDK's HTTP library to send through (the evals
            and wire tests hand in one whose transport replays or records a cassette).
    """

    sdk_client: ClassVar[Callable[..., Any]]
    """The SDK's async client class (``AsyncOpenAI``)."""
    sdk_errors: ClassVar[SdkErrors]
    """The SDK's exception classes."""
    default_provider: ClassVar[str]

    def __init__(
        self,
        model_name: str,
        *,
        api_key: str | None,
        base_url: str | None = None,
        provider: str | None = None,
        timeout_s: float = 60.0,
        retry: RetryPolicy | None = None,
        client: ClientT | None = None,
        http_client: Any = None,
    ) -> None:
        self.provider = provider or self.default_provider
        spec = provider_spec(self.provider)
        self.model_name = model_name
        self.model_id = f"{self.provider}:{model_name}"
        self.retry = retry or RetryPolicy()
        # Retries are ours (tenacity), so the client is made without the SDK's: backoff is
        # configurable and errors are mapped once.
        self.client: ClientT = client or self.sdk_client(
            api_key=api_key or _NO_KEY,
            base_url=base_url,
            timeout=timeout_s,
            max_retries=0,
            http_client=http_client,
        )
        self._info = ProviderInfo(
            self.provider,
            model_name,
            str(self.client.base_url),
            spec.key_env,
            key_sent=spec.key_required or bool(api_key),
            hosted=spec.hosted,
            start_hint=spec.start_hint,
        )

    @classmethod
    def from_options(cls, options: ModelOptions) -> Self:
        """The model the provider table's factory builds from resolved options."""
        return cls(
            options.name,
            api_key=options.api_key,
            base_url=options.base_url,
            provider=options.provider,
            timeout_s=options.timeout_s,
            retry=options.retry,
            http_client=options.http_client,
        )

    async def answer(self, request: ModelRequest) -> ModelResponse:
        """Send ``request`` through the SDK, retrying transient failures, and translate."""
        answer = await call_with_retries(
            lambda: self.send(request),
            policy=self.retry,
            errors=self.sdk_errors,
            info=self._info,
            timeout_s=request.settings.timeout_s,
        )
        return self.parse(answer)

    @abstractmethod
    async def send(self, request: ModelRequest) -> AnswerT:
        """One SDK call for ``request``, in the provider's wire format."""

    @abstractmethod
    def parse(self, answer: AnswerT) -> ModelResponse:
        """The SDK's answer as a neutral response."""

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.client.close()
