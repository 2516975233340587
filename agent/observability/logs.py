"""Log lines as text or as JSON, one object per line, for every logger of the process.

``AGENT_LOG_FORMAT=json`` (``agent serve --log-format json``) makes each record a JSON object
with ``time``, ``level``, ``logger`` and ``message``, plus what the request being served tells
(:mod:`agent.observability.context`): ``request_id``, ``session_id``, ``key_name`` (the API
key's name, never the key), ``method``, ``route`` (its template, never the path), ``status``
and ``duration_ms``. uvicorn's error and access logs go through the same handler.

Secrets are not this module's business: the server's redaction cleans every record as it is
made (``agent.observability.redaction``), before any formatter sees it.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import IO, Any, Literal

from agent.observability.context import current_request

__all__ = ["LOG_FORMATS", "TEXT_FORMAT", "JsonFormatter", "LogFormat", "configure_logging"]

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"
_HANDLER_NAME = "agent.observability.logs"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, with the current request's fields where there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _utc(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        info = current_request()
        if info is not None:
            entry["request_id"] = info.request_id
            if info.session_id:
                entry["session_id"] = info.session_id
            if info.key_name:
                entry["key_name"] = info.key_name
            entry["method"] = info.method
            entry["route"] = info.route
            if info.status is not None:
                entry["status"] = info.status
            entry["duration_ms"] = info.duration_ms()
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str)


def _utc(created: float) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{seconds}.{int(created % 1 * 1000):03d}Z"


def configure_logging(
    log_format: LogFormat, level: str = "info", *, stream: IO[str] | None = None
) -> None:
    """Send every logger's records to ``stream`` (stderr) in ``log_format``, at ``level``.

    The handler goes on the root logger, in place of one this function set before; other
    handlers stay (a test's log capture). uvicorn's loggers are left without handlers of their
    own so their records reach this one (run uvicorn with ``log_config=None`` for that).
    """
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    json_lines = log_format == "json"
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(TEXT_FORMAT))
    handler.set_name(_HANDLER_NAME)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
