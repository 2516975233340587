"""vcrpy cassettes of model traffic, recorded and replayed at the httpx transport of one client.

Each task's traffic lives in its own cassette, ``evals/cassettes/<model>/<task>.yaml``. The
cassette is bound to the model client's transport rather than patched into httpx globally, so
tasks running in parallel (``-j N``) each replay their own file.

* **Matching is strict**: method, scheme, host, port, path, query and the JSON body, so a changed
  prompt template, tool, task or page makes replay fail with a ``CassetteMismatchError`` that
  shows the first difference and the command that re-records the cassette. The only thing
  normalised away is layout (pixel counts in scroll results), which depends on fonts.
* **Hosts are the real API hosts**: traffic recorded from a local endpoint is rewritten to the
  provider's real origin (``api.openai.com``, ``api.anthropic.com``: the provider table's), so
  replay uses the SDKs' default base URL.
* **No secrets**: ``authorization``, ``x-api-key`` and other credential headers are dropped
  before anything is written, response cookies and account ids (each provider's
  ``account_headers``) too, and saving refuses a cassette in which the key in use still appears.
* **Provenance**: each cassette's metadata says what produced the traffic (the reference policy
  or a named model) and when; reports print it. The model backend tests' cassettes
  (``tests/models/cassettes``) also stamp it on every response, as a ``x-cassette-provenance``
  header (``provenance_header``).
* **Readable**: plain YAML, one file per task, so a re-recording shows in a diff what changed.
  (The requests of a conversation repeat the system prompt and tool schemas; git compresses
  that away, and the whole suite is a few MB.)
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from vcr import matchers
from vcr.cassette import Cassette
from vcr.errors import CannotOverwriteExistingCassetteException, UnhandledHTTPRequestError
from vcr.persisters.filesystem import CassetteNotFoundError, FilesystemPersister
from vcr.record_mode import RecordMode
from vcr.request import Request as VcrRequest
from vcr.serializers import yamlserializer

from agent.models.providers import PROVIDER_SPECS
from evals.errors import CassetteMismatchError

__all__ = [
    "CASSETTES_DIR",
    "SECRET_REQUEST_HEADERS",
    "CassetteTransport",
    "Provenance",
    "canonical_body",
    "cassette_path",
    "model_slug",
    "read_provenance",
]

CASSETTES_DIR = Path(__file__).resolve().parent / "cassettes"
SUFFIX = ".yaml"
_ACCOUNT_HEADERS: frozenset[str] = frozenset().union(
    *(spec.account_headers for spec in PROVIDER_SPECS)
)
SECRET_REQUEST_HEADERS = frozenset({"authorization", "x-api-key", "api-key", "cookie"}) | (
    _ACCOUNT_HEADERS
)
"""Request headers never written to a cassette: credentials and account ids."""
_DROPPED_RESPONSE_HEADERS = _ACCOUNT_HEADERS | frozenset(
    {
        "set-cookie", "date", "server", "content-length", "content-encoding", "transfer-encoding",
        "connection", "keep-alive", "cf-ray", "cf-cache-status", "x-request-id", "request-id",
    }
)  # fmt: skip
# Pixel counts depend on fonts and so on the machine; everything else in a request must match.
_LAYOUT = ((re.compile(r"showing up to \d+ of \d+px"), "showing up to N of Npx"),)
_PREVIEW = 160


def model_slug(model_id: str) -> str:
    """A folder name for a model id: ``openai:gpt-4.1-mini`` -> ``openai-gpt-4.1-mini``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", model_id).strip("-")


def cassette_path(directory: Path, model_id: str, task_id: str) -> Path:
    """Where the cassette of one task under one model lives."""
    return directory / model_slug(model_id) / f"{task_id}{SUFFIX}"


@dataclass(frozen=True)
class Provenance:
    """What produced a cassette's traffic, and when."""

    producer: str
    """``reference policy (evals/reference.py)`` or ``live model``."""
    model: str
    recorded: str
    """ISO date."""

    def describe(self) -> str:
        return f"{self.producer}, model {self.model}, recorded {self.recorded}"


def read_provenance(path: Path) -> Provenance | None:
    """The provenance stored in a cassette, or None when the file or its metadata is missing."""
    try:
        _requests, _responses, *metadata = FilesystemPersister.load_cassette(path, yamlserializer)
    except (CassetteNotFoundError, OSError, ValueError):
        return None
    stored = metadata[0].get("provenance") if metadata else None
    if not isinstance(stored, dict):
        return None
    return Provenance(
        str(stored.get("producer", "?")),
        str(stored.get("model", "?")),
        str(stored.get("recorded", "?")),
    )


def canonical_body(body: bytes | str | None) -> str:
    """A request body as canonical JSON with layout numbers masked (non-JSON: as text)."""
    if body is None:
        return ""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        text = json.dumps(json.loads(text), sort_keys=True, ensure_ascii=False)
    except ValueError:
        pass
    for pattern, replacement in _LAYOUT:
        text = pattern.sub(replacement, text)
    return text


def _first_difference(now: str, recorded: str) -> str:
    index = next(
        (i for i, (a, b) in enumerate(zip(now, recorded, strict=False)) if a != b),
        min(len(now), len(recorded)),
    )
    start = max(0, index - 60)
    return (
        f"at character {index}: recorded …{recorded[start : index + _PREVIEW]!r}… "
        f"but now …{now[start : index + _PREVIEW]!r}…"
    )


def normalised_body(r1: VcrRequest, r2: VcrRequest) -> None:
    """vcrpy matcher: the bodies are the same JSON once layout numbers are masked."""
    now, recorded = canonical_body(r1.body), canonical_body(r2.body)
    if now != recorded:
        raise AssertionError(_first_difference(now, recorded))


MATCHERS: tuple[Callable[[VcrRequest, VcrRequest], None], ...] = (
    matchers.method,
    matchers.scheme,
    matchers.host,
    matchers.port,
    matchers.path,
    matchers.query,
    normalised_body,
)


def _request_filter(real_origin: str | None) -> Callable[[VcrRequest], VcrRequest]:
    def before_record_request(request: VcrRequest) -> VcrRequest:
        if real_origin is not None:
            scheme, netloc = urlsplit(real_origin)[:2]
            parts = urlsplit(request.uri)
            request.uri = urlunsplit((scheme, netloc, parts.path, parts.query, parts.fragment))
        headers = {
            name: value
            for name, value in request.headers.items()
            if name.lower() not in SECRET_REQUEST_HEADERS
            and not name.lower().startswith("x-stainless")
            and name.lower() not in ("host", "content-length", "user-agent", "connection")
        }
        request.headers = headers
        return request

    return before_record_request


def _response_filter(stamp: tuple[str, str] | None) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def before_record_response(response: dict[str, Any]) -> dict[str, Any]:
        headers = {
            name: values
            for name, values in response["headers"].items()
            if name.lower() not in _DROPPED_RESPONSE_HEADERS
        }
        if stamp is not None:
            headers[stamp[0]] = [stamp[1]]
        response["headers"] = headers
        return response

    return before_record_response


class CassetteTransport:
    """Replays one cassette, or records into it, as the transport of an SDK's HTTP client.

    ``transport(module)`` gives the transport for ``httpx`` (the openai SDK) or its fork
    ``httpx2`` (the anthropic SDK); both speak the same API.

    Args:
        path: the cassette file (``.yaml``).
        record: record (replacing the file) instead of replaying it.
        upstream: the transport that reaches the server when recording (default: a plain
            HTTP transport of the client's module).
        real_origin: when recording from a local endpoint, the API origin to write instead.
        provenance: stored in the cassette's metadata when recording.
        provenance_header: when recording, also stamp ``provenance.describe()`` on every
            response under this header name.
        rerecord: the command that re-records this cassette, for mismatch messages.
        secrets: values that must never be written (the API key in use).
    """

    def __init__(
        self,
        path: Path,
        *,
        record: bool = False,
        upstream: Any = None,
        real_origin: str | None = None,
        provenance: Provenance | None = None,
        provenance_header: str | None = None,
        rerecord: str = "agent eval --record",
        secrets: Iterable[str] = (),
    ) -> None:
        self.path = path
        self.record = record
        self.upstream = upstream
        self.rerecord = rerecord
        self.secrets = [s for s in secrets if s and len(s) >= 8]
        self.mismatch: CassetteMismatchError | None = None
        self.requests = 0
        stamp = None
        if provenance is not None and provenance_header is not None:
            stamp = (provenance_header, provenance.describe())
        options: dict[str, Any] = {
            "path": str(path),
            "persister": FilesystemPersister,
            "serializer": yamlserializer,
            "match_on": MATCHERS,
            "before_record_request": _request_filter(real_origin),
            "before_record_response": _response_filter(stamp),
        }
        if record:
            self.cassette = Cassette(record_mode=RecordMode.ALL, **options)
            if provenance is not None:
                self.cassette.get_metadata("provenance", provenance.__dict__.copy())
        else:
            if not path.is_file():
                raise CassetteMismatchError(
                    f"There is no cassette {path}: nothing was recorded for this task and model. "
                    f"Record it with: {rerecord}"
                )
            self.cassette = Cassette.load(record_mode=RecordMode.NONE, **options)

    @property
    def provenance(self) -> Provenance | None:
        return read_provenance(self.path)

    def transport(self, module: ModuleType = httpx) -> Any:
        """An ``AsyncBaseTransport`` of ``module`` (httpx or httpx2) backed by this cassette."""
        recorder = self

        class _Transport(module.AsyncBaseTransport):  # type: ignore[name-defined,misc]
            async def handle_async_request(self, request: Any) -> Any:
                return await recorder.handle(request, module)

            async def aclose(self) -> None:
                await recorder.aclose()

        return _Transport()

    async def handle(self, request: Any, module: ModuleType) -> Any:
        """Answer one request from the cassette, or forward it and record the exchange."""
        self.requests += 1
        body = await request.aread()
        vcr_request = VcrRequest(request.method, str(request.url), body, dict(request.headers))
        if not self.record:
            return self._replay(request, vcr_request, module)
        if self.upstream is None:
            self.upstream = module.AsyncHTTPTransport()
        response = await self.upstream.handle_async_request(request)
        content = await response.aread()
        await response.aclose()
        recorded = {
            "status": {"code": response.status_code, "message": response.reason_phrase},
            "headers": _header_lists(response.headers.multi_items()),
            "body": {"string": content},
        }
        self.cassette.append(vcr_request, recorded)
        headers = [
            (k, v)
            for k, v in response.headers.multi_items()
            if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")
        ]
        return module.Response(
            response.status_code, headers=headers, content=content, request=request
        )

    def _replay(self, request: Any, vcr_request: VcrRequest, module: ModuleType) -> Any:
        try:
            recorded = self.cassette.play_response(vcr_request)
        except UnhandledHTTPRequestError:
            vcr_error = CannotOverwriteExistingCassetteException(
                cassette=self.cassette, failed_request=vcr_request
            )
            self.mismatch = self._mismatch_error(vcr_error, vcr_request)
            raise self.mismatch from vcr_error
        headers = [(k, v) for k, values in recorded["headers"].items() for v in values]
        return module.Response(
            recorded["status"]["code"],
            headers=headers,
            content=recorded["body"]["string"],
            request=request,
        )

    def _mismatch_error(
        self, error: CannotOverwriteExistingCassetteException, request: VcrRequest
    ) -> CassetteMismatchError:
        recorded = self.cassette.requests
        index = self.requests - 1
        if index < len(recorded):
            what = f"it differs from the recorded request {index + 1}: "
            what += _first_difference(
                canonical_body(request.body), canonical_body(recorded[index].body)
            )
        else:
            what = f"the cassette holds only {len(recorded)} request(s)"
        provenance = self.provenance
        made = f" (recorded from {provenance.describe()})" if provenance else ""
        return CassetteMismatchError(
            f"Cassette {_shown(self.path)}{made} has no answer for request {self.requests} "
            f"[{error.reason}]: {what}. The prompt templates, the tools, the task or its page "
            f"changed since it was recorded. Re-record with: {self.rerecord}"
        )

    def unplayed(self) -> CassetteMismatchError | None:
        """An error when replay ended before the cassette did (the run made fewer requests)."""
        if self.record or self.mismatch is not None or self.cassette.all_played:
            return None
        left = len(self.cassette) - self.cassette.play_count
        return CassetteMismatchError(
            f"Cassette {_shown(self.path)} has {left} recorded request(s) the run never made: "
            f"the run now ends sooner than when it was recorded. Re-record with: {self.rerecord}"
        )

    def save(self) -> None:
        """Write the recorded cassette; refuses if a secret would end up in it."""
        if not self.record:
            return
        self.cassette._save(force=True)
        text = self.path.read_text(encoding="utf-8", errors="replace")
        leaked = [s for s in self.secrets if s in text]
        if leaked:
            self.path.unlink()
            raise CassetteMismatchError(
                f"Refused to keep {_shown(self.path)}: the API key in use appears in it. Report "
                "this as a bug; nothing was written."
            )

    async def aclose(self) -> None:
        if self.upstream is not None:
            upstream, self.upstream = self.upstream, None
            await upstream.aclose()


def _header_lists(items: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    for name, value in items:
        headers.setdefault(name.lower(), []).append(value)
    return headers


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
