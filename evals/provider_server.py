"""The fake model provider: a local HTTP server speaking OpenAI Chat Completions and Anthropic
Messages, shared by the tests and the evals.

It listens on a real socket on 127.0.0.1, so the official ``openai`` and ``anthropic`` SDKs talk
to it exactly as they would to the real APIs (``base_url`` pointed here), and recording through
it exercises the whole wire path: our message mapping, the SDK's serialisation, HTTP, and the
answer's parsing. Every request must first pass the rules the real APIs enforce, which this
module owns in one place:

* an API key is sent (``Authorization: Bearer ...`` or ``x-api-key``), else a 401;
* Chat Completions: a model and a non-empty ``messages``; each tool is
  ``{"type": "function", "function": {name, parameters}}``; tool messages answer the preceding
  assistant's ``tool_calls`` ids in order, and none is left unanswered; tool call arguments are
  JSON text;
* Messages: the ``anthropic-version`` header, a model and ``max_tokens``, no sampling parameters
  (``temperature``, ``top_p``, ``top_k``); each tool has a name and an ``input_schema``; roles
  alternate, starting with user; no empty content or text block; a turn's ``tool_result``
  blocks come first and answer exactly the previous turn's ``tool_use`` blocks.

A request that breaks one is answered with a 400 like the real API's, so a wire-format bug fails
a test instead of being recorded into a cassette. What a valid request is answered with depends
on the server:

* :class:`FakeProviderServer` serves replies a test queued (``enqueue``), in order; the model
  backend tests and the cassettes of ``tests/models`` use it;
* :class:`ReferenceProviderServer` answers with the reference policy (``evals/reference.py``),
  for ``agent eval --record``. Its answers are deterministic: ids derive from the turn number,
  ``created`` is fixed, and usage is counted with tiktoken over the request, so re-recording an
  unchanged suite changes no byte.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Literal

from agent.browser.tokens import token_counter
from agent.models.providers import provider_spec
from evals.errors import ProtocolError
from evals.loopback import LoopbackServer
from evals.reference import REFERENCE_MODEL_NAME, ConversationView, ReferencePolicy

__all__ = [
    "CREATED",
    "FakeProviderServer",
    "ReceivedRequest",
    "ReferenceProviderServer",
    "Reply",
    "anthropic_error",
    "anthropic_message",
    "chat_completion",
    "chat_error",
    "chat_tool_call",
]

CREATED = 1_767_225_600
"""The fixed ``created`` timestamp of every answer (2026-01-01), so recordings do not change."""

Wire = Literal["openai", "anthropic"]


@dataclass(frozen=True)
class Reply:
    """One HTTP answer."""

    status: int = 200
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass(frozen=True)
class ReceivedRequest:
    """A request the server accepted (it passed the wire rules)."""

    method: str
    path: str
    headers: dict[str, str]
    """Lower-cased names."""
    body: Any


# --- OpenAI Chat Completions -------------------------------------------------------------------


def chat_tool_call(call_id: str, name: str, arguments: dict[str, Any] | str) -> dict[str, Any]:
    """A Chat Completions tool call; ``arguments`` may be a raw (even malformed) JSON string."""
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": raw}}


def chat_completion(
    *,
    text: str | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
    model: str = "gpt-4.1-mini-2025-04-14",
    prompt_tokens: int = 120,
    completion_tokens: int = 18,
    cached_tokens: int | None = None,
    id: str = "chatcmpl-fake",
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
        "id": id,
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
        raise ProtocolError("you must provide a model parameter")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ProtocolError("'messages' must be a non-empty array")
    for tool in body.get("tools") or []:
        function = tool.get("function") if isinstance(tool, dict) else None
        if tool.get("type") != "function" or not isinstance(function, dict):
            raise ProtocolError("each tool must be {'type': 'function', 'function': {...}}")
        if not function.get("name") or not isinstance(function.get("parameters"), dict):
            raise ProtocolError("each function tool needs a name and a parameters schema")
    pending: list[str] = []
    for index, message in enumerate(messages):
        role = message.get("role")
        if role == "tool":
            if not pending or message.get("tool_call_id") != pending[0]:
                raise ProtocolError(
                    f"messages[{index}]: role 'tool' must answer a preceding tool_calls id "
                    f"in order (expected {pending[:1]}, got {message.get('tool_call_id')!r})"
                )
            pending.pop(0)
            continue
        if pending:
            raise ProtocolError(
                f"An assistant message with 'tool_calls' must be followed by tool messages "
                f"responding to each 'tool_call_id'. Missing: {pending}"
            )
        if role not in ("system", "developer", "user", "assistant"):
            raise ProtocolError(f"messages[{index}]: unknown role {role!r}")
        if role == "assistant":
            for call in message.get("tool_calls") or []:
                json.loads(call["function"]["arguments"])  # must be JSON text
                pending.append(call["id"])
    if pending:
        raise ProtocolError(f"tool calls left unanswered: {pending}")


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
    id: str = "msg_fake",
) -> Reply:
    """A 200 Messages answer; ``tool_uses`` are ``(id, name, input)`` triples."""
    content: list[dict[str, Any]] = []
    if text:
        content.append({"type": "text", "text": text})
    for call_id, name, arguments in tool_uses or []:
        content.append({"type": "tool_use", "id": call_id, "name": name, "input": arguments})
    body = {
        "id": id,
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
        raise ProtocolError("anthropic-version: header is required")
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        raise ProtocolError("model: Field required")
    if not isinstance(body.get("max_tokens"), int):
        raise ProtocolError("max_tokens: Field required")
    for forbidden in ("temperature", "top_p", "top_k"):
        if forbidden in body:  # API version 2026-10-21 rejects sampling parameters
            raise ProtocolError(f"{forbidden}: Extra inputs are not permitted")
    for tool in body.get("tools") or []:
        if not tool.get("name") or not isinstance(tool.get("input_schema"), dict):
            raise ProtocolError("tools: each tool needs a name and an input_schema")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ProtocolError("messages: at least one message is required")
    previous_role = None
    open_calls: list[str] = []
    for index, message in enumerate(messages):
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise ProtocolError(f"messages.{index}.role: must be user or assistant")
        if index == 0 and role != "user":
            raise ProtocolError("messages.0: the first message must use the user role")
        if role == previous_role:
            raise ProtocolError(f"messages.{index}: roles must alternate user/assistant")
        blocks = _blocks(message)
        if not blocks:
            raise ProtocolError(f"messages.{index}: content must not be empty")
        results = [b.get("tool_use_id", "") for b in blocks if b.get("type") == "tool_result"]
        if open_calls and sorted(results) != sorted(open_calls):
            raise ProtocolError(
                f"messages.{index}: tool_use ids were found without tool_result blocks "
                f"immediately after: {sorted(set(open_calls) - set(results))}"
            )
        if results and not open_calls:
            raise ProtocolError(f"messages.{index}: unexpected tool_use_id in tool_result")
        if results and blocks[0].get("type") != "tool_result":
            raise ProtocolError(f"messages.{index}: tool_result blocks must come first")
        for block in blocks:
            if block.get("type") == "text" and not block.get("text"):
                raise ProtocolError(f"messages.{index}: text content blocks must be non-empty")
        open_calls = [b["id"] for b in blocks if b.get("type") == "tool_use"]
        previous_role = role
    if open_calls:
        raise ProtocolError("the last assistant message has unanswered tool_use blocks")


def _blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    """A message's content as blocks (a string is one text block)."""
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return list(content or [])


# --- refusing what the real APIs refuse --------------------------------------------------------


def _wire_of(path: str) -> Wire | None:
    path = path.rstrip("/")
    if path.endswith("/chat/completions"):
        return "openai"
    if path.endswith("/messages"):
        return "anthropic"
    return None


def _refusal(wire: Wire, status: int, message: str) -> Reply:
    """The error the real API answers a refused request with."""
    kind = "authentication_error" if status == 401 else "invalid_request_error"
    if wire == "anthropic":
        return anthropic_error(status, kind, message)
    return chat_error(status, message, type=kind)


def _refuse(wire: Wire, request: ReceivedRequest) -> Reply | None:
    """The 401 or 400 for a request that breaks a wire rule; None when it keeps them all."""
    headers = request.headers
    if not headers.get("authorization", "").startswith("Bearer ") and "x-api-key" not in headers:
        return _refusal(wire, 401, "no API key: send Authorization: Bearer <key>")
    try:
        if wire == "openai":
            _check_chat(request.body)
        else:
            _check_messages(headers, request.body)
    except (ProtocolError, KeyError, TypeError, AttributeError, ValueError) as exc:
        return _refusal(wire, 400, str(exc))
    return None


# --- the servers -------------------------------------------------------------------------------


class FakeProviderServer(LoopbackServer):
    """Serves queued replies on ``/v1/chat/completions`` and ``/v1/messages``.

    Replies are served in the order queued, to requests that pass the wire rules (those are
    kept in ``requests``). When the queue is empty the ``fallback`` reply is served (by default
    a 500 saying the script ran out). Use as a context manager, or ``start()`` and ``close()``.
    """

    def __init__(self) -> None:
        self.requests: list[ReceivedRequest] = []
        self.fallback: Reply = Reply(
            500, {"error": {"message": "fake server: no scripted reply left", "type": "fake"}}
        )
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        super().__init__(_make_handler(self), poll_interval=0.02)

    def base_url(self, provider: str) -> str:
        """The base URL an SDK of ``provider`` is given to talk to this server: its API root
        (the provider table's ``api_path``) on this server's origin."""
        return self.url + provider_spec(provider).api_path

    @property
    def openai_base_url(self) -> str:
        """The OpenAI SDK's base URL (``.../v1``)."""
        return self.base_url("openai")

    @property
    def anthropic_base_url(self) -> str:
        """The Anthropic SDK's base URL."""
        return self.base_url("anthropic")

    def enqueue(self, *replies: Reply, times: int = 1) -> None:
        """Queue replies, each ``times`` times in a row."""
        with self._lock:
            for reply in replies:
                self._replies.extend([reply] * times)

    def handle(self, request: ReceivedRequest) -> Reply:
        """The reply to one request: a refusal, or what this server answers."""
        wire = _wire_of(request.path)
        if wire is None:
            missing = {"message": f"no route {request.path}", "type": "not_found"}
            return Reply(404, {"error": missing})
        return _refuse(wire, request) or self.answer(wire, request)

    def answer(self, wire: Wire, request: ReceivedRequest) -> Reply:
        """The next queued reply (or the fallback) to a request that keeps the wire rules."""
        with self._lock:
            self.requests.append(request)
            return self._replies.popleft() if self._replies else self.fallback


class ReferenceProviderServer(FakeProviderServer):
    """Answers with the reference policy: whatever its solution says for the task and turn.

    ``openai_base_url`` and ``anthropic_base_url`` are what the SDKs need. Thread-safe: the
    policy is stateless, so parallel tasks may share one server.
    """

    def __init__(self, policy: ReferencePolicy) -> None:
        super().__init__()
        self.policy = policy
        self.counter = token_counter()

    def answer(self, wire: Wire, request: ReceivedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
        body = request.body
        try:
            view = _openai_view(body) if wire == "openai" else _anthropic_view(body)
        except ProtocolError as exc:
            return _refusal(wire, 400, str(exc))
        calls = self.policy.decide(view)
        input_tokens = self._count_request(body)
        output_tokens = sum(
            self.counter.count(f"{c.name}{json.dumps(c.arguments, ensure_ascii=False)}")
            for c in calls
        )
        turn = view.assistant_turns + 1
        numbered = list(enumerate(calls, 1))
        if wire == "anthropic":
            return anthropic_message(
                tool_uses=[(f"toolu_{turn}_{i}", c.name, c.arguments) for i, c in numbered],
                model=REFERENCE_MODEL_NAME,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                id=f"msg_reference_{turn}",
            )
        return chat_completion(
            tool_calls=[
                chat_tool_call(f"call_{turn}_{i}", c.name, c.arguments) for i, c in numbered
            ],
            model=REFERENCE_MODEL_NAME,
            prompt_tokens=input_tokens,
            completion_tokens=output_tokens,
            id=f"chatcmpl-reference-{turn}",
        )

    def _count_request(self, body: dict[str, Any]) -> int:
        parts: list[str] = [json.dumps(body.get("tools") or [], ensure_ascii=False)]
        system = body.get("system")
        if isinstance(system, str):
            parts.append(system)
        for message in body.get("messages") or []:
            content = message.get("content")
            parts.append(
                content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
            )
            for call in message.get("tool_calls") or []:
                parts.append(json.dumps(call, ensure_ascii=False))
        return sum(self.counter.count_many(parts)) + 4 * len(body.get("messages") or [])


# --- what the reference policy reads ------------------------------------------------------------


def _openai_view(body: dict[str, Any]) -> ConversationView:
    """The conversation of a Chat Completions request that passed ``_check_chat``."""
    texts: list[str] = []
    first = ""
    turns = 0
    for index, message in enumerate(body["messages"]):
        role = message.get("role")
        if role == "tool":
            texts.append(str(message.get("content") or ""))
        elif role == "user":
            content = message.get("content")
            if not isinstance(content, str):
                raise ProtocolError(f"messages[{index}]: expected string content")
            first = first or content
            texts.append(content)
        elif role == "assistant":
            turns += 1
    return ConversationView(first, turns, tuple(texts))


def _anthropic_view(body: dict[str, Any]) -> ConversationView:
    """The conversation of a Messages request that passed ``_check_messages``."""
    texts: list[str] = []
    first = ""
    turns = 0
    for message in body["messages"]:
        role = message["role"]
        if role == "assistant":
            turns += 1
        for block in _blocks(message):
            kind = block.get("type")
            if kind == "text" and role == "user":
                first = first or block["text"]
                texts.append(block["text"])
            elif kind == "tool_result":
                content = block.get("content")
                texts.append(content if isinstance(content, str) else json.dumps(content))
    return ConversationView(first, turns, tuple(texts))


# --- HTTP ---------------------------------------------------------------------------------------


def _make_handler(server: FakeProviderServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length)
            try:
                body: Any = json.loads(raw) if raw else None
            except json.JSONDecodeError:
                body = raw.decode("utf-8", "replace")  # refused by the wire rules
            headers = {k.lower(): v for k, v in self.headers.items()}
            reply = server.handle(ReceivedRequest("POST", self.path, headers, body))
            if reply.delay_s:
                time.sleep(reply.delay_s)
            payload = json.dumps(reply.body, ensure_ascii=False).encode("utf-8")
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
            pass  # keep test and eval output quiet

    return Handler
