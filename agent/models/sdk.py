"""What the backends built on an official SDK share: the client, retries and error mapping.

A wire module (``openai.py``, ``anthropic.py``) subclasses :class:`SdkModel` and writes only its
translation: :meth:`SdkModel.send` (neutral request to one SDK call) and :meth:`SdkModel.parse`
(the SDK's answer to a neutral response). Retrying, turning SDK exceptions into the ModelError
tree with advice from the provider table, the model id and closing are done here once.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from agent.messages import ModelResponse
from agent.models.protocol import ModelBase, ModelRequest
from agent.models.providers import provider_spec
from agent.models.retry import ProviderInfo, RetryPolicy, SdkErrors, call_with_retries

__all__ = ["SdkClient", "SdkModel"]


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
        model_name: the provider's model name, e.g. ``gpt-4.1-mini``.
        provider: its row in the provider table (``agent.models.providers``).
        client: the SDK client, made without SDK retries: retries are ours (tenacity), so
            backoff is configurable and errors are mapped once.
        api_key: the key the client sends, if any (errors then blame the key, not its absence).
        retry: backoff for 429, 5xx, timeouts and connection errors.
    """

    sdk_errors: ClassVar[SdkErrors]
    """The SDK's exception classes."""

    def __init__(
        self,
        model_name: str,
        *,
        provider: str,
        client: ClientT,
        api_key: str | None,
        retry: RetryPolicy | None,
    ) -> None:
        spec = provider_spec(provider)
        self.model_name = model_name
        self.provider = provider
        self.model_id = f"{provider}:{model_name}"
        self.retry = retry or RetryPolicy()
        self.client = client
        self._info = ProviderInfo(
            provider,
            model_name,
            str(client.base_url),
            spec.key_env,
            key_sent=spec.key_required or bool(api_key),
            hosted=spec.hosted,
            start_hint=spec.start_hint,
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
