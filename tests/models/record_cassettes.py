"""Record and replay the wire-format cassettes in ``tests/models/cassettes/``.

The backend wire tests of every recordable provider (``test_wire.py``: OpenAI and Anthropic) and
the server's json/summary formats over both wire formats
(``tests/server/test_server_extract_wire.py``) run the real SDK clients over the eval suite's
cassette stack (``evals/cassettes.py``): the SDK's HTTP client gets a ``CassetteTransport``,
which replays or records one cassette. The environment variable ``AGENT_RECORD`` picks what
happens:

* unset: replay. Strict matching on method, scheme, host, port, path, query and the JSON body;
  no network, no key, no server. A request the cassette lacks fails the test, and so does a
  recorded request the test never made.
* ``fake``: re-record every cassette from the fake provider (``evals/provider_server.py``),
  serving the replies each test scripts. The SDK talks to ``http://127.0.0.1:PORT``; the
  recorded URI is rewritten to the provider's real origin (``https://api.openai.com``, ...) so
  replay uses the real default base URL.
* ``live``: re-record the cassettes the real API can produce (not the forced 429s) against the
  real API. Needs the provider's key (``OPENAI_API_KEY``, ...); tests skip with a reason
  without.

Re-record with ``python -m tests.models.record_cassettes fake`` (or ``live``) from the
repository root, then review the diff: assertions that hold for the fake server's scripted
answers may need the live model to behave, e.g. to call the tool it is told to call.

Provenance: every recorded response carries a header ``x-cassette-provenance`` saying what
produced it and when, e.g. ``scripted fake server (evals/provider_server.py), model
openai:gpt-4.1-mini, recorded 2026-11-25`` (the cassette's metadata says it too). Secrets never
reach a cassette: credential headers are dropped from requests, cookies and account ids from
responses, and saving refuses a cassette in which the key in use appears.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agent.messages import ModelSettings, SystemMessage
from agent.models.providers import ModelOptions, provider_spec
from agent.models.retry import RetryPolicy
from agent.models.sdk import SdkModel
from evals.backends import _http_module
from evals.cassettes import CassetteTransport, Provenance
from evals.provider_server import FakeProviderServer, Reply

__all__ = [
    "ANTHROPIC_MODEL",
    "CASSETTE_DIR",
    "FAST",
    "MODEL_NAMES",
    "OPENAI_MODEL",
    "PAGE",
    "PROVENANCE_HEADER",
    "SETTINGS",
    "SYSTEM",
    "CassetteFactory",
    "CassetteRun",
    "cassette_factory",
    "main",
    "record_mode",
    "use_cassette",
]

HERE = Path(__file__).resolve().parent
CASSETTE_DIR = HERE / "cassettes"
PROVENANCE_HEADER = "x-cassette-provenance"
RECORD_ENV_VAR = "AGENT_RECORD"
RERECORD = "python -m tests.models.record_cassettes fake"
WIRE_TESTS = ("models/test_wire.py", "server/test_server_extract_wire.py")
"""Every test that replays these cassettes, relative to ``tests/``."""

OPENAI_MODEL = "gpt-4.1-mini"
ANTHROPIC_MODEL = "claude-haiku-4-5"
MODEL_NAMES = {"openai": OPENAI_MODEL, "anthropic": ANTHROPIC_MODEL}
"""The model each recordable provider's cassettes were recorded with."""

# What both wire tests send: changing any of it changes the recorded requests.
FAST = RetryPolicy(retries=2, initial_backoff_s=0.001, max_backoff_s=0.001)
SETTINGS = ModelSettings(temperature=0.0, max_output_tokens=256, timeout_s=30.0)
SYSTEM = SystemMessage(
    "You operate a web page through tools. Elements are named by refs like e3. "
    "Call tools exactly as the user asks."
)
PAGE = '- textbox "Query" [ref=e2]\n- button "Search" [ref=e3]'


def record_mode() -> str:
    """``replay``, ``fake`` or ``live``, from ``AGENT_RECORD``."""
    value = os.environ.get(RECORD_ENV_VAR, "").strip().lower()
    if value in ("", "none", "replay"):
        return "replay"
    if value not in ("fake", "live"):
        raise SystemExit(f"{RECORD_ENV_VAR}={value!r}: use 'fake', 'live' or leave it unset")
    return value


def key_env(provider: str) -> str:
    """The variable holding ``provider``'s key, from the provider table."""
    return provider_spec(provider).key_env or ""


def api_key(provider: str) -> str:
    """The key tests use: the real one if set (needed live), else a placeholder."""
    return os.environ.get(key_env(provider)) or "test-key"


@dataclass
class CassetteRun:
    """One test's cassette: the SDK client to use, with which key, and the fake server."""

    name: str
    provider: str
    mode: str
    base_url: str | None
    api_key: str
    fake: FakeProviderServer | None
    transport: CassetteTransport

    @property
    def cassette(self) -> Any:
        """The vcrpy cassette: its recorded requests and responses, play count, length."""
        return self.transport.cassette

    def model(self, api_key: str | None = None) -> SdkModel[Any, Any]:
        """The provider's model as the provider table builds it (no SDK retries, a 60 s timeout),
        with :data:`FAST` retries, its SDK's HTTP going through the cassette."""
        spec = provider_spec(self.provider)
        module = _http_module(spec)
        http_client = module.AsyncClient(transport=self.transport.transport(module), timeout=60.0)
        options = ModelOptions(
            self.provider,
            MODEL_NAMES[self.provider],
            api_key=api_key or self.api_key,
            base_url=self.base_url,
            timeout_s=60.0,
            retry=FAST,
            http_client=http_client,
        )
        assert spec.build is not None
        model = spec.build(options)
        assert isinstance(model, SdkModel)
        return model

    def client(self, api_key: str | None = None) -> Any:
        """An ``AsyncOpenAI`` / ``AsyncAnthropic`` whose HTTP goes through the cassette, built
        as the backends build their own (no SDK retries, a 60 s timeout)."""
        return self.model(api_key).client

    def script(self, *replies: Reply, times: int = 1) -> None:
        """Queue the fake server's answers; ignored when replaying or recording live."""
        if self.fake is not None:
            self.fake.enqueue(*replies, times=times)

    def sent_json(self, index: int = 0) -> Any:
        """The JSON body of recorded request ``index``."""
        return json.loads(self.cassette.requests[index].body)

    def recorded_json(self, index: int) -> Any:
        """The JSON body of recorded response ``index`` (to compare mappings against)."""
        return json.loads(self.cassette.responses[index]["body"]["string"])


CassetteFactory = Callable[..., AbstractContextManager[CassetteRun]]
"""The ``cassette`` fixture: ``cassette(name, provider, live=True)`` opens a CassetteRun."""


@contextmanager
def use_cassette(
    name: str, provider: str, *, mode: str, fake: FakeProviderServer | None
) -> Iterator[CassetteRun]:
    """Replay or record ``cassettes/<name>.yaml`` around the block."""
    path = CASSETTE_DIR / f"{name}.yaml"
    key = api_key(provider)
    base_url = None
    if mode == "replay":
        transport = CassetteTransport(path, rerecord=RERECORD)
    else:
        origin = provider_spec(provider).real_origin
        if fake is not None:
            base_url = fake.base_url(provider)
        producer = "scripted fake server (evals/provider_server.py)" if fake else f"live {origin}"
        model = MODEL_NAMES[provider]
        transport = CassetteTransport(
            path,
            record=True,
            real_origin=origin if fake is not None else None,
            provenance=Provenance(producer, f"{provider}:{model}", dt.date.today().isoformat()),
            provenance_header=PROVENANCE_HEADER,
            rerecord=RERECORD,
            secrets=[key],
        )
    run = CassetteRun(name, provider, mode, base_url, key, fake, transport)
    yield run
    if mode == "replay":
        unplayed = transport.unplayed()
        if unplayed is not None:
            raise unplayed
    else:
        transport.save()


@contextmanager
def cassette_factory() -> Iterator[CassetteFactory]:
    """What the ``cassette`` fixtures yield: ``open_cassette(name, provider, live=True)``.

    Pass ``live=False`` for cassettes the real API cannot produce (forced errors), which skip in
    live mode. Fake provider servers started for recording are closed when the block ends.
    """
    mode = record_mode()
    servers: list[FakeProviderServer] = []

    def open_cassette(
        name: str, provider: str, *, live: bool = True
    ) -> AbstractContextManager[CassetteRun]:
        if mode == "live":
            if not live:
                pytest.skip(f"{name}: the real API cannot be made to produce this; fake only")
            if not os.environ.get(key_env(provider)):
                pytest.skip(f"AGENT_RECORD=live needs {key_env(provider)} set to a real key")
        if mode == "replay" and not (CASSETTE_DIR / f"{name}.yaml").exists():
            pytest.fail(f"cassette {name}.yaml is missing: record it with `{RERECORD}`")
        fake = None
        if mode == "fake":
            fake = FakeProviderServer().start()
            servers.append(fake)
        return use_cassette(name, provider, mode=mode, fake=fake)

    try:
        yield open_cassette
    finally:
        for server in servers:
            server.close()


def main(argv: list[str]) -> int:
    """``python -m tests.models.record_cassettes fake|live``: re-record the cassettes."""
    if len(argv) != 1 or argv[0] not in ("fake", "live"):
        print(__doc__)
        print("usage: python -m tests.models.record_cassettes fake|live", file=sys.stderr)
        return 2
    os.environ[RECORD_ENV_VAR] = argv[0]
    tests = HERE.parent
    return int(pytest.main([str(tests / name) for name in WIRE_TESTS] + ["-q", "-rs"]))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
