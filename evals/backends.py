"""The model an eval configuration runs a task with, wired to its cassette.

Four ways to get a model's answers, one ``EvalBackend`` each:

* ``solutions``: the reference policy in process (a ScriptedModel), no HTTP at all;
* ``replay``: the real ``openai`` / ``anthropic`` SDK, its transport replaying the task's
  cassette; no key, no network;
* ``record``: the SDK talking to a server (the local reference endpoint, or the real API with a
  key), its transport writing the task's cassette;
* ``live``: the SDK talking to the real API, nothing recorded.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

from agent.errors import ConfigError
from agent.models.base import Model, parse_model_id
from agent.models.retry import RetryPolicy
from evals.cassettes import REAL_ORIGINS, CassetteTransport, Provenance, cassette_path
from evals.reference import REFERENCE_MODEL_NAME, ReferencePolicy
from evals.results import RunMode
from evals.tasks import Task

__all__ = [
    "KEY_ENV",
    "REPLAY_KEY",
    "EvalBackend",
    "OpenedModel",
    "is_reference",
    "reference_model_id",
    "rerecord_command",
]

KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
REPLAY_KEY = "replay-needs-no-key"
"""The key the SDKs are given on replay: they insist on one, and the cassette ignores it."""
REFERENCE_PRODUCER = "reference policy (evals/reference.py via evals/provider_server.py)"


def reference_model_id(provider: str) -> str:
    """``openai:reference-policy`` or ``anthropic:reference-policy``."""
    return f"{provider}:{REFERENCE_MODEL_NAME}"


def is_reference(model_id: str) -> bool:
    return model_id.partition(":")[2] == REFERENCE_MODEL_NAME


def rerecord_command(model_id: str, task_ids: list[str] | None = None) -> str:
    """The one command that re-records the cassettes of ``model_id`` (for these tasks)."""
    provider = model_id.partition(":")[0]
    tasks = f" --tasks {','.join(task_ids)}" if task_ids else ""
    if is_reference(model_id):
        return f"agent eval --record --provider {provider}{tasks}"
    return (
        f"agent eval --record --model {model_id}{tasks}  (needs {KEY_ENV.get(provider, 'a key')})"
    )


@dataclass
class OpenedModel:
    """A model ready for one task, and the cassette transport behind it, if any."""

    model: Model
    transport: CassetteTransport | None = None
    client: Any = None

    async def aclose(self) -> None:
        if self.transport is not None:
            self.transport.save()
            await self.transport.aclose()
        if self.client is not None:
            await self.client.close()


@dataclass
class EvalBackend:
    """How one configuration obtains a model's answers.

    Args:
        model_id: ``openai:reference-policy``, ``anthropic:claude-sonnet-4-6``, ...; for
            ``solutions`` the policy is used directly and the id only labels the results.
        mode: ``solutions``, ``replay``, ``record`` or ``live``.
        cassette_dir: where cassettes live (``evals/cassettes``).
        policy: the reference policy (``solutions``, or recording the reference cassettes).
        base_url: the server to record from (the local reference endpoint); None for the real API.
        api_key: the key for live runs and real recordings.
    """

    model_id: str
    mode: RunMode
    cassette_dir: Path
    policy: ReferencePolicy | None = None
    base_url: str | None = None
    api_key: str | None = None

    @property
    def provider(self) -> str:
        return parse_model_id(self.model_id)[0] if self.mode != "solutions" else "scripted"

    def provenance(self) -> Provenance:
        today = dt.date.today().isoformat()
        if is_reference(self.model_id):
            return Provenance(REFERENCE_PRODUCER, self.model_id, today)
        return Provenance("live model API", self.model_id, today)

    def open(self, task: Task) -> OpenedModel:
        """A fresh model (and cassette) for one task."""
        if self.mode == "solutions":
            if self.policy is None:
                raise ConfigError("solutions mode needs the reference policy")
            return OpenedModel(self.policy.scripted_model(task))
        provider, name = parse_model_id(self.model_id)
        if provider not in REAL_ORIGINS:
            raise ConfigError(
                f"Evals record and replay the openai and anthropic wire formats; {self.model_id!r} "
                "uses neither. Use a model id starting with openai: or anthropic:."
            )
        path = cassette_path(self.cassette_dir, self.model_id, task.id)
        command = rerecord_command(self.model_id, [task.id])
        key = self.api_key or os.environ.get(KEY_ENV[provider]) or REPLAY_KEY
        module: ModuleType = _http_module(provider)
        transport: Any
        cassette: CassetteTransport | None = None
        if self.mode == "replay":
            cassette = CassetteTransport(path, rerecord=command)
            transport, base_url, key = cassette.transport(module), _api_root(provider), REPLAY_KEY
        elif self.mode == "record":
            from_local = self.base_url is not None
            cassette = CassetteTransport(
                path,
                record=True,
                real_origin=REAL_ORIGINS[provider] if from_local else None,
                provenance=self.provenance(),
                rerecord=command,
                secrets=[key],
            )
            transport = cassette.transport(module)
            base_url = self.base_url or _api_root(provider)
        else:
            transport, base_url = module.AsyncHTTPTransport(), self.base_url or _api_root(provider)
        # Replays retry nothing: a mismatch must fail at once, not after backoff.
        retry = RetryPolicy(retries=0 if self.mode == "replay" else 3)
        http_client = module.AsyncClient(transport=transport, timeout=120.0)
        model, client = _sdk_model(provider, name, key, base_url, http_client, retry)
        return OpenedModel(model, cassette, client)


def _http_module(provider: str) -> ModuleType:
    """The HTTP library the provider's SDK is built on: anthropic moved to the httpx2 fork."""
    if provider == "anthropic":
        try:
            import httpx2
        except ImportError:  # older anthropic SDKs use httpx itself
            return httpx
        return httpx2
    return httpx


def _api_root(provider: str) -> str:
    # Explicit, so OPENAI_BASE_URL / ANTHROPIC_BASE_URL in the environment cannot redirect a
    # replay away from the recorded host.
    return REAL_ORIGINS[provider] + ("/v1" if provider == "openai" else "")


def _sdk_model(
    provider: str,
    name: str,
    key: str,
    base_url: str | None,
    http_client: Any,
    retry: RetryPolicy,
) -> tuple[Model, Any]:
    if provider == "anthropic":
        from anthropic import AsyncAnthropic

        from agent.models.anthropic import AnthropicModel

        anthropic_client = AsyncAnthropic(
            api_key=key, base_url=base_url, http_client=http_client, max_retries=0
        )
        return AnthropicModel(name, api_key=key, retry=retry, client=anthropic_client), (
            anthropic_client
        )
    from openai import AsyncOpenAI

    from agent.models.openai import OpenAIModel

    openai_client = AsyncOpenAI(
        api_key=key, base_url=base_url, http_client=http_client, max_retries=0
    )
    return OpenAIModel(name, api_key=key, retry=retry, client=openai_client), openai_client
