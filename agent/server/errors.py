"""Errors in Firecrawl's shape, ``{"success": false, "error": ..., "details"?, "code"?}``.

Every failure the server answers goes through :class:`ApiError` or one of the handlers below,
so a client never sees FastAPI's ``{"detail": ...}`` or a bare 500 with a traceback. The server
never answers 502: Firecrawl's SDKs retry 502, which would run a prompt a second time.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from agent.errors import BrowserError, ConfigError, ModelError, SessionLostError

__all__ = ["ApiError", "SafeJSONResponse", "error_response", "install_error_handlers"]

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


class ApiError(Exception):
    """A failure with the HTTP status and message the client should see."""

    def __init__(
        self,
        status: int,
        error: str,
        *,
        code: str | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        if status == 502:  # pragma: no cover - a programming error, caught in review
            raise ValueError("never answer 502: Firecrawl's SDKs retry it and rerun prompts")
        super().__init__(error)
        self.status = status
        self.error = error
        self.code = code
        self.details = details
        self.headers = headers


def error_response(
    status: int,
    error: str,
    *,
    code: str | None = None,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"success": False, "error": error}
    if code is not None:
        body["code"] = code
    if details is not None:
        body["details"] = details
    return SafeJSONResponse(body, status_code=status, headers=headers)


def _describe_validation_error(err: dict[str, Any]) -> dict[str, Any]:
    loc = [str(part) for part in err.get("loc", ()) if part != "body"]
    message = str(err.get("msg", "invalid value"))
    # pydantic prefixes messages raised from validators with "Value error, "
    message = message.removeprefix("Value error, ")
    return {"path": loc, "message": message}


async def _on_api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(
        exc.status, exc.error, code=exc.code, details=exc.details, headers=exc.headers
    )


async def _on_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = [_describe_validation_error(dict(err)) for err in exc.errors()]
    summary = "; ".join(f"{'.'.join(d['path']) or 'body'}: {d['message']}" for d in details[:5])
    return error_response(400, f"Bad Request: {summary}", details=details)


async def _on_http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = 503 if exc.status_code == 502 else exc.status_code
    headers = dict(exc.headers) if exc.headers else None
    return error_response(status, str(exc.detail), headers=headers)


async def _on_model_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ModelError)
    return error_response(
        503,
        f"The model backend failed: {exc}",
        code="MODEL_BACKEND_ERROR",
        details={"provider": exc.provider, "status": exc.status},
    )


async def _on_config_error(_request: Request, exc: Exception) -> JSONResponse:
    return error_response(503, f"The server is misconfigured: {exc}", code="CONFIG_ERROR")


async def _on_session_lost(_request: Request, exc: Exception) -> JSONResponse:
    return error_response(
        410, f"{exc} Scrape the page again to get a new scrapeId.", code="SESSION_LOST"
    )


async def _on_browser_error(_request: Request, exc: Exception) -> JSONResponse:
    return error_response(
        503, f"The browser could not be started or used: {exc}", code="BROWSER_UNAVAILABLE"
    )


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(
        500,
        f"Internal server error ({type(exc).__name__}: {exc}). The server log has the details.",
        code="INTERNAL_ERROR",
    )


def install_error_handlers(app: FastAPI) -> None:
    """Make every error the app can raise answer in Firecrawl's error shape."""
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(ModelError, _on_model_error)
    app.add_exception_handler(ConfigError, _on_config_error)
    app.add_exception_handler(SessionLostError, _on_session_lost)
    app.add_exception_handler(BrowserError, _on_browser_error)
    app.add_exception_handler(Exception, _on_unexpected)
