"""A local HTTP endpoint speaking OpenAI Chat Completions and Anthropic Messages, answering with
the reference policy.

The official ``openai`` and ``anthropic`` SDKs talk to it exactly as they would to the real
APIs (``base_url`` pointed here), so recording the reference cassettes exercises the whole wire
path: our message mapping, the SDK's serialisation, HTTP, and the answer's parsing. It checks the
rules the real APIs enforce (tool results answer the preceding calls, Anthropic roles alternate,
no sampling parameters on Anthropic) and answers a violation with a 400, so a wire-format bug
fails loudly instead of being recorded.

Answers are deterministic: ids derive from the turn number, ``created`` is fixed, and usage is
counted with tiktoken over the request, so re-recording an unchanged suite changes no byte.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from agent.browser.tokens import token_counter
from evals.errors import ProtocolError
from evals.reference import REFERENCE_MODEL_NAME, ConversationView, PolicyCall, ReferencePolicy

__all__ = ["CREATED", "ReferenceProviderServer"]

CREATED = 1_767_225_600
"""The fixed ``created`` timestamp of every answer (2026-01-01)."""


class ReferenceProviderServer:
    """Serves the reference policy on ``/v1/chat/completions`` and ``/v1/messages``.

    Use as a context manager; ``openai_base_url`` and ``anthropic_base_url`` are what the SDKs
    need. Thread-safe: the policy is stateless, so parallel tasks may share one server.
    """

    def __init__(self, policy: ReferencePolicy) -> None:
        self.policy = policy
        self.counter = token_counter()
        self.requests = 0
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    def start(self) -> ReferenceProviderServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> ReferenceProviderServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def answer(self, path: str, headers: dict[str, str], body: Any) -> tuple[int, dict[str, Any]]:
        """The status and JSON body answering one request."""
        with self._lock:
            self.requests += 1
        anthropic = path.rstrip("/").endswith("/messages")
        if not anthropic and not path.rstrip("/").endswith("/chat/completions"):
            return 404, {"error": {"message": f"no route {path}", "type": "not_found"}}
        try:
            if anthropic:
                view = _anthropic_view(headers, body)
            else:
                view = _openai_view(body)
        except (ProtocolError, KeyError, TypeError, AttributeError, ValueError) as exc:
            if anthropic:
                return 400, {
                    "type": "error",
                    "error": {"type": "invalid_request_error", "message": str(exc)},
                }
            return 400, {"error": {"message": str(exc), "type": "invalid_request_error"}}
        calls = self.policy.decide(view)
        input_tokens = self._count_request(body)
        output_tokens = sum(
            self.counter.count(f"{c.name}{json.dumps(c.arguments, ensure_ascii=False)}")
            for c in calls
        )
        turn = view.assistant_turns + 1
        if anthropic:
            return 200, _anthropic_answer(calls, turn, input_tokens, output_tokens)
        return 200, _openai_answer(calls, turn, input_tokens, output_tokens)

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


# --- OpenAI Chat Completions -------------------------------------------------------------------


def _openai_view(body: Any) -> ConversationView:
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        raise ProtocolError("you must provide a model parameter")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ProtocolError("'messages' must be a non-empty array")
    pending: list[str] = []
    texts: list[str] = []
    first = ""
    turns = 0
    for index, message in enumerate(messages):
        role = message.get("role")
        if role == "tool":
            if not pending or message.get("tool_call_id") != pending[0]:
                raise ProtocolError(
                    f"messages[{index}]: a tool message must answer the next pending tool call "
                    f"(expected {pending[:1]}, got {message.get('tool_call_id')!r})"
                )
            pending.pop(0)
            texts.append(str(message.get("content") or ""))
            continue
        if pending:
            raise ProtocolError(f"tool calls {pending} must be answered by tool messages first")
        if role == "user":
            content = message.get("content")
            if not isinstance(content, str):
                raise ProtocolError(f"messages[{index}]: expected string content")
            first = first or content
            texts.append(content)
        elif role == "assistant":
            turns += 1
            for call in message.get("tool_calls") or []:
                json.loads(call["function"]["arguments"])
                pending.append(call["id"])
        elif role not in ("system", "developer"):
            raise ProtocolError(f"messages[{index}]: unknown role {role!r}")
    if pending:
        raise ProtocolError(f"tool calls left unanswered: {pending}")
    return ConversationView(first, turns, tuple(texts))


def _openai_answer(
    calls: Sequence[PolicyCall], turn: int, input_tokens: int, output_tokens: int
) -> dict[str, Any]:
    tool_calls = [
        {
            "id": f"call_{turn}_{index}",
            "type": "function",
            "function": {
                "name": call.name,
                "arguments": json.dumps(call.arguments, ensure_ascii=False),
            },
        }
        for index, call in enumerate(calls, 1)
    ]
    return {
        "id": f"chatcmpl-reference-{turn}",
        "object": "chat.completion",
        "created": CREATED,
        "model": REFERENCE_MODEL_NAME,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "refusal": None,
                    "tool_calls": tool_calls,
                },
                "logprobs": None,
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {
            "prompt_tokens": input_tokens,
            "completion_tokens": output_tokens,
            "total_tokens": input_tokens + output_tokens,
        },
    }


# --- Anthropic Messages ------------------------------------------------------------------------


def _anthropic_view(headers: dict[str, str], body: Any) -> ConversationView:
    if "anthropic-version" not in headers:
        raise ProtocolError("anthropic-version: header is required")
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        raise ProtocolError("model: Field required")
    if not isinstance(body.get("max_tokens"), int):
        raise ProtocolError("max_tokens: Field required")
    for forbidden in ("temperature", "top_p", "top_k"):
        if forbidden in body:
            raise ProtocolError(f"{forbidden}: Extra inputs are not permitted")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ProtocolError("messages: at least one message is required")
    texts: list[str] = []
    first = ""
    turns = 0
    previous = None
    open_calls: list[str] = []
    for index, message in enumerate(messages):
        role = message.get("role")
        if role not in ("user", "assistant") or role == previous:
            raise ProtocolError(f"messages.{index}: roles must alternate user/assistant")
        if index == 0 and role != "user":
            raise ProtocolError("messages.0: the first message must use the user role")
        blocks = message.get("content")
        if isinstance(blocks, str):
            blocks = [{"type": "text", "text": blocks}]
        if not blocks:
            raise ProtocolError(f"messages.{index}: content must not be empty")
        answered = [b.get("tool_use_id") for b in blocks if b.get("type") == "tool_result"]
        if sorted(answered) != sorted(open_calls):
            raise ProtocolError(
                f"messages.{index}: tool_use ids without tool_result blocks right after: "
                f"{sorted(set(open_calls) - set(answered))}"
            )
        if role == "assistant":
            turns += 1
        for block in blocks:
            kind = block.get("type")
            if kind == "text":
                if not block.get("text"):
                    raise ProtocolError(f"messages.{index}: text content blocks must be non-empty")
                if role == "user":
                    first = first or block["text"]
                    texts.append(block["text"])
            elif kind == "tool_result":
                content = block.get("content")
                texts.append(content if isinstance(content, str) else json.dumps(content))
        open_calls = [b["id"] for b in blocks if b.get("type") == "tool_use"]
        previous = role
    if open_calls:
        raise ProtocolError("the last assistant message has unanswered tool_use blocks")
    return ConversationView(first, turns, tuple(texts))


def _anthropic_answer(
    calls: Sequence[PolicyCall], turn: int, input_tokens: int, output_tokens: int
) -> dict[str, Any]:
    return {
        "id": f"msg_reference_{turn}",
        "type": "message",
        "role": "assistant",
        "model": REFERENCE_MODEL_NAME,
        "content": [
            {
                "type": "tool_use",
                "id": f"toolu_{turn}_{index}",
                "name": call.name,
                "input": call.arguments,
            }
            for index, call in enumerate(calls, 1)
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cache_read_input_tokens": 0,
            "cache_creation_input_tokens": 0,
        },
    }


# --- HTTP ---------------------------------------------------------------------------------------


def _make_handler(server: ReferenceProviderServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                body: Any = json.loads(raw) if raw else None
            except json.JSONDecodeError:
                status, answer = 400, {"error": {"message": "the body is not JSON"}}
            else:
                status, answer = server.answer(self.path, headers, body)
            payload = json.dumps(answer, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
