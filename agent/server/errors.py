"""Errors in Firecrawl's shape: ``{"success": false, "error": ..., "code": ..., "details"?}``.

Every failure the server answers has a ``code``, and each code has exactly one HTTP status, in
``STATUS``: a ``RequestError`` raised anywhere below the routes, an error of the library's tree,
a validation error or a routing error all go through :func:`error_response`. A client never
sees FastAPI's ``{"detail": ...}`` or a bare 500 with a traceback. The server never answers 502:
Firecrawl's SDKs retry 502, which would run a prompt a second time.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from agent.errors import (
    BrowserError,
    ConfigError,
    ModelError,
    RequestError,
    SessionLostError,
)

__all__ = [
    "STATUS",
    "SafeJSONResponse",
    "error_response",
    "install_error_handlers",
    "status_of",
]

log = logging.getLogger(__name__)

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class SafeJSONResponse(JSONResponse):
    """JSON that renders even when a string holds a lone surrogate, which UTF-8 cannot encode.

    A page can put one in its title or text (JavaScript strings are UTF-16), and a client can
    send one escaped in JSON; without this, echoing either back would be a 500.
    """

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except UnicodeEncodeError:
            return super().render(_replace_surrogates(content))


def _replace_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_replace_surrogates(k): _replace_surrogates(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_replace_surrogates(item) for item in value]
    return value


STATUS: dict[str, int] = {
    # the request itself
    "BAD_REQUEST": 400,
    "UNAUTHORIZED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "METHOD_NOT_ALLOWED": 405,
    "PAYLOAD_TOO_LARGE": 413,
    "HEADERS_TOO_LARGE": 431,
    # a key's budget ([server.key_budgets]) is spent for the month
    "INSUFFICIENT_CREDITS": 402,
    "INSUFFICIENT_TOKENS": 402,
    # sessions and profiles
    "SESSION_NOT_FOUND": 404,
    "SESSION_LOST": 410,
    "TOO_MANY_SESSIONS": 429,
    "BAD_PROFILE_NAME": 400,
    "PROFILE_IN_USE": 409,
    "PROFILE_CORRUPT": 500,
    # loading a page
    "SCRAPE_TIMEOUT": 408,
    "SCRAPE_DNS_RESOLUTION_ERROR": 400,
    "SCRAPE_SSL_ERROR": 400,
    "SCRAPE_SITE_UNREACHABLE": 400,
    "SCRAPE_ABORTED": 400,
    "SCRAPE_FAILED": 400,
    "SCRAPE_BLOCKED": 403,
    "SCRAPE_ACTION_ERROR": 400,
    # a scrape that may only be served from a cache (lockdown, minAge): this server keeps none
    "SCRAPE_NO_CACHED_DATA": 404,
    "SCRAPE_LOCKDOWN_CACHE_MISS": 404,
    # the json format: the model's answer did not match the schema, also after one retry
    "SCRAPE_JSON_SCHEMA_MISMATCH": 422,
    # what the server depends on
    "MODEL_BACKEND_ERROR": 503,
    "CONFIG_ERROR": 503,
    "BROWSER_UNAVAILABLE": 503,
    # the code's sandbox (or its python/node worker) did not start: the server's failure
    "SANDBOX_UNAVAILABLE": 503,
    "SERVICE_UNAVAILABLE": 503,
    "INTERNAL_ERROR": 500,
}
"""Every code the server answers with, and its one HTTP status."""

_CODE_OF_STATUS = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED",
                   413: "PAYLOAD_TOO_LARGE", 503: "SERVICE_UNAVAILABLE"}  # fmt: skip


def status_of(error: RequestError) -> int:
    """The HTTP status a ``RequestError`` is answered with."""
    return STATUS[error.code]


def error_response(
    code: str,
    error: str,
    *,
    details: Any = None,
    retry_after_s: int | None = None,
) -> JSONResponse:
    """The response for a failure: its code's status, Firecrawl's body, and the headers the
    code calls for (``WWW-Authenticate`` on 401, ``Retry-After`` when waiting helps)."""
    status = STATUS[code]
    body: dict[str, Any] = {"success": False, "error": error, "code": code}
    if details is not None:
        body["details"] = details
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if retry_after_s is not None:
        headers["Retry-After"] = str(retry_after_s)
    return SafeJSONResponse(body, status_code=status, headers=headers or None)


def _describe_validation_error(err: dict[str, Any]) -> dict[str, Any]:
    loc = [str(part) for part in err.get("loc", ()) if part != "body"]
    message = str(err.get("msg", "invalid value"))
    # pydantic prefixes messages raised from validators with "Value error, "
    message = message.removeprefix("Value error, ")
    if err.get("type") == "extra_forbidden" and loc:
        # A field Firecrawl's API does not know: saying so beats dropping it without a word.
        message = (
            f"unknown field {loc[-1]!r}: Firecrawl's v2 API has no such option here. Check its "
            "spelling (fields are camelCase, e.g. onlyMainContent) or remove it"
        )
    return {"path": loc, "message": message}


async def _on_request_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestError)
    return error_response(
        exc.code, exc.message, details=exc.details, retry_after_s=exc.retry_after_s
    )


async def _on_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = [_describe_validation_error(dict(err)) for err in exc.errors()]
    summary = "; ".join(f"{'.'.join(d['path']) or 'body'}: {d['message']}" for d in details[:5])
    return error_response("BAD_REQUEST", f"Bad Request: {summary}", details=details)


async def _on_http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _CODE_OF_STATUS.get(exc.status_code, "INTERNAL_ERROR")
    return error_response(code, str(exc.detail))


async def _on_model_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ModelError)
    return error_response(
        "MODEL_BACKEND_ERROR",
        f"The model backend failed: {exc}",
        details={"provider": exc.provider, "status": exc.status},
    )


async def _on_config_error(_request: Request, exc: Exception) -> JSONResponse:
    return error_response("CONFIG_ERROR", f"The server is misconfigured: {exc}")


async def _on_session_lost(_request: Request, exc: Exception) -> JSONResponse:
    return error_response("SESSION_LOST", f"{exc} Scrape the page again to get a new scrapeId.")


async def _on_browser_error(_request: Request, exc: Exception) -> JSONResponse:
    return error_response("BROWSER_UNAVAILABLE", f"The browser could not be started or used: {exc}")


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(
        "INTERNAL_ERROR",
        f"Internal server error ({type(exc).__name__}: {exc}). The server log has the details.",
    )


def install_error_handlers(app: FastAPI) -> None:
    """Make every error the app can raise answer in Firecrawl's error shape."""
    app.add_exception_handler(RequestError, _on_request_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(ModelError, _on_model_error)
    app.add_exception_handler(ConfigError, _on_config_error)
    app.add_exception_handler(SessionLostError, _on_session_lost)
    app.add_exception_handler(BrowserError, _on_browser_error)
    app.add_exception_handler(Exception, _on_unexpected)
