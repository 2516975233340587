"""Record and replay the wire-format cassettes in ``tests/models/cassettes/``.

The OpenAI and Anthropic backend tests (``test_openai_wire.py``, ``test_anthropic_wire.py``) run
the real SDK clients against vcrpy cassettes. The environment variable ``AGENT_RECORD`` picks
what happens:

* unset: replay. ``record_mode="none"``, strict matching on method, scheme, host, path and
  body; no network, no key, no server. A request the cassette lacks fails the test.
* ``fake``: re-record every cassette from the local fake server (``fake_providers.py``). The
  SDK talks to ``http://127.0.0.1:PORT``; the recorded URI is rewritten to
  ``https://api.openai.com`` / ``https://api.anthropic.com`` so replay uses the real default
  base URL.
* ``live``: re-record the cassettes the real API can produce (not the forced 429s) against the
  real API. Needs ``OPENAI_API_KEY`` / ``ANTHROPIC_API_KEY``; tests skip with a reason without.

Re-record with ``python tests/models/record_cassettes.py fake`` (or ``live``), then review the
diff: assertions that hold for the fake server's scripted answers may need the live model to
behave, e.g. to call the tool it is told to call.

Provenance: vcrpy drops YAML comments, so every recorded response carries a header
``x-cassette-provenance`` saying what produced it and when, e.g. ``scripted fake server
(tests/models/fake_providers.py), recorded 2026-11-25``. Secrets never reach a cassette:
``authorization``, ``x-api-key``, ``api-key`` and ``cookie`` are filtered from requests,
``set-cookie`` and account ids from responses.
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
from urllib.parse import urlsplit, urlunsplit

import vcr
from fake_providers import FakeProviderServer, Reply

__all__ = [
    "ANTHROPIC_MODEL",
    "CASSETTE_DIR",
    "OPENAI_MODEL",
    "PROVENANCE_HEADER",
    "CassetteFactory",
    "CassetteRun",
    "main",
    "record_mode",
    "use_cassette",
]

HERE = Path(__file__).resolve().parent
CASSETTE_DIR = HERE / "cassettes"
PROVENANCE_HEADER = "x-cassette-provenance"
RECORD_ENV_VAR = "AGENT_RECORD"
WIRE_TESTS = ("test_openai_wire.py", "test_anthropic_wire.py")

OPENAI_MODEL = "gpt-4.1-mini"
ANTHROPIC_MODEL = "claude-haiku-4-5"

REAL_ORIGINS = {"openai": "https://api.openai.com", "anthropic": "https://api.anthropic.com"}
KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
FILTERED_REQUEST_HEADERS = ["authorization", "x-api-key", "api-key", "cookie"]
DROPPED_RESPONSE_HEADERS = {
    "set-cookie",
    "openai-organization",
    "openai-project",
    "anthropic-organization-id",
    "date",
    "server",
}


def record_mode() -> str:
    """``replay``, ``fake`` or ``live``, from ``AGENT_RECORD``."""
    value = os.environ.get(RECORD_ENV_VAR, "").strip().lower()
    if value in ("", "none", "replay"):
        return "replay"
    if value not in ("fake", "live"):
        raise SystemExit(f"{RECORD_ENV_VAR}={value!r}: use 'fake', 'live' or leave it unset")
    return value


@dataclass
class CassetteRun:
    """One test's cassette: where the SDK should point, with which key, and the fake server."""

    name: str
    provider: str
    mode: str
    base_url: str | None
    api_key: str
    fake: FakeProviderServer | None
    cassette: Any = None

    def script(self, *replies: Reply, times: int = 1) -> None:
        """Queue the fake server's answers; ignored when replaying or recording live."""
        if self.fake is not None:
            self.fake.enqueue(*replies, times=times)

    def recorded_json(self, index: int) -> Any:
        """The JSON body of recorded response ``index`` (to compare mappings against)."""
        body = self.cassette.responses[index]["body"]["string"]
        return json.loads(body)


CassetteFactory = Callable[..., AbstractContextManager[CassetteRun]]
"""The ``cassette`` fixture: ``cassette(name, provider, live=True)`` opens a CassetteRun."""


def api_key(provider: str) -> str:
    """The key tests use: the real one if set (needed live), else a placeholder."""
    return os.environ.get(KEY_ENV[provider]) or "test-key"


@contextmanager
def use_cassette(
    name: str, provider: str, *, mode: str, fake: FakeProviderServer | None
) -> Iterator[CassetteRun]:
    """Replay or record ``cassettes/<name>.yaml`` around the block."""
    path = CASSETTE_DIR / f"{name}.yaml"
    if mode == "replay":
        base_url = None
    elif mode == "fake":
        assert fake is not None
        base_url = fake.openai_base_url if provider == "openai" else fake.url
        path.unlink(missing_ok=True)  # vcrpy would otherwise merge old interactions
    else:
        base_url = None
        path.unlink(missing_ok=True)
    recorder = vcr.VCR(
        cassette_library_dir=str(CASSETTE_DIR),
        record_mode="none" if mode == "replay" else "all",
        match_on=["method", "scheme", "host", "path", "body"],
        filter_headers=FILTERED_REQUEST_HEADERS,
        before_record_request=_request_filter(provider, mode),
        before_record_response=_response_filter(provider, mode),
        decode_compressed_response=True,
    )
    run = CassetteRun(name, provider, mode, base_url, api_key(provider), fake)
    with recorder.use_cassette(path.name) as cassette:
        run.cassette = cassette
        yield run
        if mode == "replay" and not cassette.all_played:
            unplayed = len(cassette) - cassette.play_count
            raise AssertionError(
                f"cassette {path.name} has {unplayed} interaction(s) the test never requested: "
                "the backend now sends fewer requests; re-record (see record_cassettes.py)"
            )


def _request_filter(provider: str, mode: str) -> Any:
    def before_record_request(request: Any) -> Any:
        if mode == "fake":
            scheme, netloc = urlsplit(REAL_ORIGINS[provider])[:2]
            parts = urlsplit(request.uri)
            request.uri = urlunsplit((scheme, netloc, parts.path, parts.query, parts.fragment))
            if "host" in request.headers:
                request.headers["host"] = netloc
        for header in list(request.headers):
            # SDK platform telemetry: noise in a cassette and never matched on.
            if header.lower().startswith("x-stainless"):
                del request.headers[header]
        return request

    return before_record_request


def _response_filter(provider: str, mode: str) -> Any:
    today = dt.date.today().isoformat()
    if mode == "fake":
        provenance = f"scripted fake server (tests/models/fake_providers.py), recorded {today}"
    else:
        provenance = f"live {REAL_ORIGINS[provider]}, recorded {today}"

    def before_record_response(response: Any) -> Any:
        headers = {
            name: values
            for name, values in response["headers"].items()
            if name.lower() not in DROPPED_RESPONSE_HEADERS
        }
        headers[PROVENANCE_HEADER] = [provenance]
        response["headers"] = headers
        return response

    return before_record_response


def main(argv: list[str]) -> int:
    """``record_cassettes.py fake|live``: re-record the wire-format cassettes."""
    if len(argv) != 1 or argv[0] not in ("fake", "live"):
        print(__doc__)
        print("usage: python tests/models/record_cassettes.py fake|live", file=sys.stderr)
        return 2
    import pytest

    os.environ[RECORD_ENV_VAR] = argv[0]
    return int(pytest.main([str(HERE / name) for name in WIRE_TESTS] + ["-q", "-rs"]))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
