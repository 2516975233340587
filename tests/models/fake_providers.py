"""A local HTTP server speaking OpenAI Chat Completions and Anthropic Messages, for tests.

It listens on a real socket on 127.0.0.1 and serves scripted replies in order, so the official
SDK clients talk to it exactly as they would to the real APIs. It checks the protocol rules the
real APIs enforce (tool results answer the preceding tool calls, Anthropic roles alternate, ...)
and answers a violation with a 400 like the real API would, so a wire-format bug fails a test
instead of being recorded into a cassette.

Used directly by the openai-compatible tests, and to (re)record the cassettes of the OpenAI and
Anthropic wire-format tests (see ``record_cassettes.py``).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = [
    "FakeProviderServer",
    "ProtocolViolation",
    "ReceivedRequest",
    "Reply",
    "anthropic_error",
    "anthropic_message",
    "chat_completion",
    "chat_error",
    "chat_tool_call",
]

CREATED = 1_767_225_600  # fixed timestamp so recorded bodies do not change between recordings


@dataclass(frozen=True)
class Reply:
    """One scripted HTTP answer."""

    status: int = 200
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass(frozen=True)
class ReceivedRequest:
    """A request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


class ProtocolViolation(Exception):
    """The request broke a rule the real API enforces."""


# --- OpenAI Chat Completions -------------------------------------------------------------------


def chat_tool_call(call_id: str, name: str, arguments: dict[str, Any] | str) -> dict[str, Any]:
    """A Chat Completions tool call; ``arguments`` may be a raw (even malformed) JSON string."""
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": raw}}


def chat_completion(
    *,
    text: str | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
    model: str = "gpt-4.1-mini-2025-04-14",
    prompt_tokens: int = 120,
    completion_tokens: int = 18,
    cached_tokens: int | None = None,
) -> Reply:
    """A 200 Chat Completions answer with text and/or tool calls."""
    message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    usage: dict[str, Any] = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    if cached_tokens is not None:
        usage["prompt_tokens_details"] = {"cached_tokens": cached_tokens, "audio_tokens": 0}
    body = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls" if tool_calls else "stop",
            }
        ],
        "usage": usage,
    }
    return Reply(200, body)


def chat_error(
    status: int, message: str, *, type: str = "invalid_request_error", code: str | None = None
) -> Reply:
    """An OpenAI-style error answer."""
    body = {"error": {"message": message, "type": type, "param": None, "code": code}}
    return Reply(status, body)


def _check_chat(body: Any) -> None:
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        raise ProtocolViolation("you must provide a model parameter")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ProtocolViolation("'messages' must be a non-empty array")
    for tool in body.get("tools") or []:
        function = tool.get("function") if isinstance(tool, dict) else None
        if tool.get("type") != "function" or not isinstance(function, dict):
            raise ProtocolViolation("each tool must be {'type': 'function', 'function': {...}}")
        if not function.get("name") or not isinstance(function.get("parameters"), dict):
            raise ProtocolViolation("each function tool needs a name and a parameters schema")
    pending: list[str] = []
    for index, message in enumerate(messages):
        role = message.get("role")
        if role == "tool":
            if not pending or message.get("tool_call_id") != pending[0]:
                raise ProtocolViolation(
                    f"messages[{index}]: role 'tool' must answer a preceding tool_calls id "
                    f"in order (expected {pending[:1]}, got {message.get('tool_call_id')!r})"
                )
            pending.pop(0)
            continue
        if pending:
            raise ProtocolViolation(
                f"An assistant message with 'tool_calls' must be followed by tool messages "
                f"responding to each 'tool_call_id'. Missing: {pending}"
            )
        if role not in ("system", "developer", "user", "assistant"):
            raise ProtocolViolation(f"messages[{index}]: unknown role {role!r}")
        if role == "assistant":
            for call in message.get("tool_calls") or []:
                json.loads(call["function"]["arguments"])  # must be JSON text
                pending.append(call["id"])
    if pending:
        raise ProtocolViolation(f"tool calls left unanswered: {pending}")


# --- Anthropic Messages ------------------------------------------------------------------------


def anthropic_message(
    *,
    text: str | None = None,
    tool_uses: list[tuple[str, str, dict[str, Any]]] | None = None,
    model: str = "claude-haiku-4-5-20251001",
    input_tokens: int = 140,
    output_tokens: int = 22,
    cache_read_input_tokens: int = 0,
    cache_creation_input_tokens: int = 0,
) -> Reply:
    """A 200 Messages answer; ``tool_uses`` are ``(id, name, input)`` triples."""
    content: list[dict[str, Any]] = []
    if text:
        content.append({"type": "text", "text": text})
    for call_id, name, arguments in tool_uses or []:
        content.append({"type": "tool_use", "id": call_id, "name": name, "input": arguments})
    body = {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": "tool_use" if tool_uses else "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cache_read_input_tokens": cache_read_input_tokens,
            "cache_creation_input_tokens": cache_creation_input_tokens,
        },
    }
    return Reply(200, body)


def anthropic_error(status: int, type: str, message: str) -> Reply:
    """An Anthropic-style error answer."""
    return Reply(status, {"type": "error", "error": {"type": type, "message": message}})


def _check_messages(headers: dict[str, str], body: Any) -> None:
    if "anthropic-version" not in headers:
        raise ProtocolViolation("anthropic-version: header is required")
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        raise ProtocolViolation("model: Field required")
    if not isinstance(body.get("max_tokens"), int):
        raise ProtocolViolation("max_tokens: Field required")
    for forbidden in ("temperature", "top_p", "top_k"):
        if forbidden in body:  # API version 2026-10-21 rejects sampling parameters
            raise ProtocolViolation(f"{forbidden}: Extra inputs are not permitted")
    for tool in body.get("tools") or []:
        if not tool.get("name") or not isinstance(tool.get("input_schema"), dict):
            raise ProtocolViolation("tools: each tool needs a name and an input_schema")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ProtocolViolation("messages: at least one message is required")
    previous_role = None
    open_calls: list[str] = []
    for index, message in enumerate(messages):
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise ProtocolViolation(f"messages.{index}.role: must be user or assistant")
        if index == 0 and role != "user":
            raise ProtocolViolation("messages.0: the first message must use the user role")
        if role == previous_role:
            raise ProtocolViolation(f"messages.{index}: roles must alternate user/assistant")
        blocks = message.get("content")
        if isinstance(blocks, str):
            blocks = [{"type": "text", "text": blocks}]
        if not blocks:
            raise ProtocolViolation(f"messages.{index}: content must not be empty")
        results = [b.get("tool_use_id") for b in blocks if b.get("type") == "tool_result"]
        if open_calls and sorted(results) != sorted(open_calls):
            raise ProtocolViolation(
                f"messages.{index}: tool_use ids were found without tool_result blocks "
                f"immediately after: {sorted(set(open_calls) - set(results))}"
            )
        if results and not open_calls:
            raise ProtocolViolation(f"messages.{index}: unexpected tool_use_id in tool_result")
        if results and blocks[0].get("type") != "tool_result":
            raise ProtocolViolation(f"messages.{index}: tool_result blocks must come first")
        for block in blocks:
            if block.get("type") == "text" and not block.get("text"):
                raise ProtocolViolation(f"messages.{index}: text content blocks must be non-empty")
        open_calls = [b["id"] for b in blocks if b.get("type") == "tool_use"]
        previous_role = role
    if open_calls:
        raise ProtocolViolation("the last assistant message has unanswered tool_use blocks")


# --- the server --------------------------------------------------------------------------------


class FakeProviderServer:
    """Serves scripted replies on ``/v1/chat/completions`` and ``/v1/messages``.

    Replies are served in the order queued. When the queue is empty the ``fallback`` reply is
    served (by default a 500 saying the script ran out).
    """

    def __init__(self) -> None:
        self.requests: list[ReceivedRequest] = []
        self.fallback: Reply = Reply(
            500, {"error": {"message": "fake server: no scripted reply left", "type": "fake"}}
        )
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: the Anthropic base URL."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def openai_base_url(self) -> str:
        """The OpenAI-style base URL (``.../v1``)."""
        return f"{self.url}/v1"

    def enqueue(self, *replies: Reply, times: int = 1) -> None:
        """Queue replies, each ``times`` times in a row."""
        with self._lock:
            for reply in replies:
                self._replies.extend([reply] * times)

    def start(self) -> FakeProviderServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FakeProviderServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _next_reply(self, request: ReceivedRequest) -> Reply:
        try:
            if request.path.endswith("/chat/completions"):
                _check_auth(request.headers)
                _check_chat(request.body)
            elif request.path.endswith("/messages"):
                _check_auth(request.headers)
                _check_messages(request.headers, request.body)
            else:
                return Reply(404, {"error": {"message": f"no route {request.path}"}})
        except (ProtocolViolation, KeyError, TypeError, AttributeError, ValueError) as exc:
            kind = "authentication_error" if isinstance(exc, _AuthMissing) else "invalid_request"
            status = 401 if isinstance(exc, _AuthMissing) else 400
            if request.path.endswith("/messages"):
                return anthropic_error(status, kind, str(exc))
            return chat_error(status, str(exc), type=f"{kind}_error")
        with self._lock:
            self.requests.append(request)
            return self._replies.popleft() if self._replies else self.fallback


class _AuthMissing(ProtocolViolation):
    pass


def _check_auth(headers: dict[str, str]) -> None:
    if not headers.get("authorization", "").startswith("Bearer ") and "x-api-key" not in headers:
        raise _AuthMissing("no API key: send Authorization: Bearer <key>")


def _make_handler(server: FakeProviderServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length)
            try:
                body: Any = json.loads(raw) if raw else None
            except json.JSONDecodeError:
                body = raw.decode("utf-8", "replace")
            headers = {k.lower(): v for k, v in self.headers.items()}
            reply = server._next_reply(ReceivedRequest("POST", self.path, headers, body))
            if reply.delay_s:
                time.sleep(reply.delay_s)
            payload = json.dumps(reply.body).encode()
            try:
                self.send_response(reply.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout tests)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output quiet

    return Handler
