"""No secret in a log line: tokens in URLs, API and model keys, auth headers are redacted as each
log record is made, for every logger of the process (uvicorn's access and error logs, httpx,
websockets, the library's own) and whatever formats it later (text today, JSON tomorrow).

The redaction sits in the log-record factory (``logging.setLogRecordFactory``), so a record is
clean before any handler, filter or formatter sees it: its message, each of its arguments (the
access log's path is one), and the text of an exception it carries. What it removes:

* the query string of a ``/v2/cdp/...`` or ``/v2/live/...`` path (the session's tokens);
* ``token=...`` in any URL or text, and the random path of a session's loopback DevTools port
  (``/devtools/browser/<token>``);
* ``Bearer ...`` (an ``Authorization`` header's value);
* every registered secret, wherever it appears: the server's API keys and the model keys
  (:func:`install_redaction` registers them, and any variable of the environment named like
  a key, token, secret or password).
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable
from typing import Any

__all__ = ["REDACTED", "install_redaction", "redact"]

REDACTED = "[redacted]"

_PATTERNS = (
    (re.compile(r"(/v2/(?:cdp|live)/[^\s?\"'<>]*)\?[^\s\"'<>]*"), r"\1?" + REDACTED),
    (re.compile(r"(?i)(\btoken=)[^&\s\"'<>]+"), r"\1" + REDACTED),
    (re.compile(r"(/devtools/browser/)[A-Za-z0-9_\-]{16,}"), r"\1" + REDACTED),
    (re.compile(r"(?i)(\bbearer\s+)[^\s\"',]+"), r"\1" + REDACTED),
)
_SECRET_NAME = re.compile(r"(KEY|KEYS|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)$", re.I)
_MIN_SECRET = 8  # shorter values would redact ordinary words
_secrets: tuple[str, ...] = ()  # replaced whole, longest first, so readers need no lock
_lock = threading.Lock()
_installed = False


def redact(text: str) -> str:
    """``text`` with every token, key and auth header replaced by ``[redacted]``."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def install_redaction(secrets: Iterable[str] = ()) -> None:
    """Redact every log record the process makes from now on, and ``secrets`` (with the
    environment's key-like variables) wherever they appear. Safe to call again: secrets add up."""
    global _installed, _secrets
    found = [value for name, value in os.environ.items() if _SECRET_NAME.search(name)]
    values = {
        value.strip()
        for secret in [*secrets, *found]
        for value in secret.split(",")  # AGENT_API_KEYS holds several
        if len(value.strip()) >= _MIN_SECRET
    }
    with _lock:
        _secrets = tuple(sorted(values.union(_secrets), key=len, reverse=True))
        if _installed:
            return
        _installed = True
        make = logging.getLogRecordFactory()

    def clean_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        _clean(record)
        return record

    logging.setLogRecordFactory(clean_record)


def _clean(record: logging.LogRecord) -> None:
    if isinstance(record.msg, str):
        record.msg = redact(record.msg)
    elif record.msg is not None and _dirty(str(record.msg)):
        record.msg = redact(str(record.msg))
    if isinstance(record.args, tuple):
        record.args = tuple(_clean_arg(arg) for arg in record.args)
    elif isinstance(record.args, dict):
        record.args = {key: _clean_arg(value) for key, value in record.args.items()}
    if record.exc_info and not record.exc_text:
        text = logging.Formatter().formatException(record.exc_info)
        if _dirty(text):
            # Formatters print exc_text when there is one; with exc_info gone, none can format
            # the exception's own (secret-bearing) message again.
            record.exc_text, record.exc_info = redact(text), None
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


def _clean_arg(arg: object) -> object:
    if isinstance(arg, str):
        return redact(arg)
    if arg is None or isinstance(arg, int | float | bool):
        return arg  # a %d or %f still formats
    text = str(arg)
    return redact(text) if _dirty(text) else arg


def _dirty(text: str) -> bool:
    return redact(text) != text
