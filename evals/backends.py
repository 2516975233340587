"""The model an eval configuration runs a task with, wired to its cassette.

Four ways to get a model's answers, one ``EvalBackend`` each:

* ``solutions``: the reference policy in process (a ScriptedModel), no HTTP at all;
* ``replay``: the real SDK of a recordable provider (``openai``, ``anthropic``: the provider
  table's hosted ones), its transport replaying the task's cassette; no key, no network;
* ``record``: the SDK talking to a server (the local reference endpoint, or the real API with a
  key), its transport writing the task's cassette;
* ``live``: the SDK talking to the real API, nothing recorded.
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

from agent.errors import ConfigError
from agent.models.protocol import Model
from agent.models.providers import (
    PROVIDERS,
    ModelOptions,
    ProviderSpec,
    parse_model_id,
    provider_spec,
    recordable_providers,
)
from agent.models.retry import RetryPolicy
from agent.models.sdk import SdkModel
from evals.cassettes import CassetteTransport, Provenance, cassette_path
from evals.reference import REFERENCE_MODEL_NAME, ReferencePolicy
from evals.results import RunMode
from evals.tasks import Task

__all__ = [
    "REPLAY_KEY",
    "EvalBackend",
    "OpenedModel",
    "is_reference",
    "recordable_spec",
    "reference_model_id",
    "rerecord_command",
]

REPLAY_KEY = "replay-needs-no-key"
"""The key the SDKs are given on replay: they insist on one, and the cassette ignores it."""
REFERENCE_PRODUCER = "reference policy (evals/reference.py via evals/provider_server.py)"


def recordable_spec(model_id: str, what: str) -> ProviderSpec:
    """The provider of ``model_id`` if its traffic can be recorded and replayed, else
    ConfigError naming the ones that can (``what`` is how the id was given)."""
    prefix = model_id.partition(":")[0].strip().lower()
    recordable = recordable_providers()
    if prefix not in [spec.prefix for spec in recordable]:
        formats = " and ".join(spec.prefix for spec in recordable)
        starts = " or ".join(f"{spec.prefix}:" for spec in recordable)
        raise ConfigError(
            f"{what}: evals record and replay the {formats} wire formats; use a model id "
            f"starting with {starts}."
        )
    return provider_spec(prefix)


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
    key_env = provider_spec(provider).key_env if provider in PROVIDERS else None
    return f"agent eval --record --model {model_id}{tasks}  (needs {key_env or 'a key'})"


@dataclass
class OpenedModel:
    """A model ready for one task, and the cassette transport behind it, if any."""

    model: Model
    transport: CassetteTransport | None = None

    async def aclose(self) -> None:
        if self.transport is not None:
            self.transport.save()
            await self.transport.aclose()
        if isinstance(self.model, SdkModel):
            await self.model.aclose()


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
        spec = recordable_spec(self.model_id, repr(self.model_id))
        _, name = parse_model_id(self.model_id)
        path = cassette_path(self.cassette_dir, self.model_id, task.id)
        command = rerecord_command(self.model_id, [task.id])
        key = self.api_key or os.environ.get(spec.key_env or "") or REPLAY_KEY
        module = _http_module(spec)
        transport: Any
        cassette: CassetteTransport | None = None
        # Explicit base URLs, so OPENAI_BASE_URL / ANTHROPIC_BASE_URL in the environment cannot
        # redirect a replay away from the recorded host.
        base_url = self.base_url or spec.base_url
        if self.mode == "replay":
            cassette = CassetteTransport(path, rerecord=command)
            transport, base_url, key = cassette.transport(module), spec.base_url, REPLAY_KEY
        elif self.mode == "record":
            from_local = self.base_url is not None
            cassette = CassetteTransport(
                path,
                record=True,
                real_origin=spec.real_origin if from_local else None,
                provenance=self.provenance(),
                rerecord=command,
                secrets=[key],
            )
            transport = cassette.transport(module)
        else:
            transport = module.AsyncHTTPTransport()
        # Replays retry nothing: a mismatch must fail at once, not after backoff.
        retry = RetryPolicy(retries=0 if self.mode == "replay" else 3)
        http_client = module.AsyncClient(transport=transport, timeout=120.0)
        assert spec.build is not None  # recordable providers are built from ids
        options = ModelOptions(
            spec.prefix, name, api_key=key, base_url=base_url, retry=retry, http_client=http_client
        )
        return OpenedModel(spec.build(options), cassette)


def _http_module(spec: ProviderSpec) -> ModuleType:
    """The HTTP library the provider's SDK is built on (``httpx``, or its fork ``httpx2``)."""
    try:
        return importlib.import_module(spec.http_library)
    except ImportError:  # older SDKs of a provider that moved to a fork still use httpx
        return httpx
