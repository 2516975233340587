"""The model protocol, and the base the library's own models share.

``Model`` is what the planner calls: anything with a ``model_id`` and ``request(messages, *,
tools, settings)`` is one, whether or not it subclasses anything. The models shipped here (the
SDK backends, the scripted and demo models, the evals' metering wrapper) subclass
:class:`ModelBase`, which takes the call once and hands it on as one :class:`ModelRequest`: the
value the scripted model records and the backends translate.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from agent.messages import Message, ModelResponse, ModelSettings, ToolSpec

__all__ = ["Model", "ModelBase", "ModelRequest"]


@runtime_checkable
class Model(Protocol):
    """A chat model that can call tools."""

    model_id: str
    """The ``provider:name`` id this model was created from."""

    async def request(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSpec],
        settings: ModelSettings,
    ) -> ModelResponse:
        """Send the conversation and tool specs; return the model's next answer."""
        ...


@dataclass(frozen=True)
class ModelRequest:
    """One call of :meth:`Model.request`: what the model is sent."""

    messages: tuple[Message, ...]
    tools: tuple[ToolSpec, ...]
    settings: ModelSettings


class ModelBase(ABC):
    """The base of the library's models: :meth:`request` arrives at :meth:`answer` as one
    :class:`ModelRequest`, so each model writes only what it does with it."""

    model_id: str

    async def request(
        self, messages: Sequence[Message], *, tools: Sequence[ToolSpec], settings: ModelSettings
    ) -> ModelResponse:
        """Send the conversation and tool specs; return the model's next answer."""
        return await self.answer(ModelRequest(tuple(messages), tuple(tools), settings))

    @abstractmethod
    async def answer(self, request: ModelRequest) -> ModelResponse:
        """The model's next answer to ``request``."""
