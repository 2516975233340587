"""Traces over OTLP/HTTP, received by a real receiver on loopback (protobuf decoded with the
opentelemetry-proto classes): a server span per request under the client's ``traceparent``;
``scrape`` with its actions; ``invoke_agent`` with a ``chat {model}`` span per model call and
``execute_tool {name}`` per tool call, with the GenAI attributes; ``execute_code`` with its
language, exit code and killed flag. No prompt text unless content capture is turned on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agent.messages import Usage
from agent.models import ScriptedModel, ScriptedTurn, tool_call
from agent.server import ServerSettings
from tests.harness import RunningServer, Turns
from tests.otlp_receiver import OtlpReceiver, ReceivedSpan, otlp_receiver

PROMPT = "Read the count and tell me: zebra-marker-7781"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
SERVER, CLIENT, INTERNAL = 2, 3, 1  # SpanKind in OTLP's numbering


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    with otlp_receiver() as running:
        yield running


def _traced_server(
    receiver: OtlpReceiver, profiles: Path, turns: Turns, *, capture: bool
) -> RunningServer:
    """A server whose telemetry was set up from these OTEL_* variables (read when the app is
    built, so nothing else in this process sees them)."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
        env.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
        env.setenv("OTEL_SERVICE_NAME", "agent-under-test")
        if capture:
            env.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
        model = ScriptedModel(turns, model_id="openai:gpt-4.1-mini")
        return RunningServer(ServerSettings(profiles_dir=profiles, warm_browsers=0), model=model)


@pytest.fixture(scope="module")
def traced(
    receiver: OtlpReceiver, tmp_path_factory: pytest.TempPathFactory, site: str
) -> Iterator[dict[str, object]]:
    """A scrape with actions and a json format, a code call, a killed one and a prompt (under
    the client's traceparent and request id), on a server exporting to ``receiver``."""
    turns = Turns()
    server = _traced_server(receiver, tmp_path_factory.mktemp("profiles"), turns, capture=False)
    try:
        turns.add(ScriptedTurn(text='{"count": 0}', usage=Usage(input=90, output=6)))
        scraped = server.scrape(
            f"{site}/index.html",
            formats=["markdown", {"type": "json", "prompt": "The count"}],
            actions=[{"type": "click", "selector": "#inc"}, {"type": "wait", "milliseconds": 10}],
        )
        assert scraped.status_code == 200, scraped.text
        scrape_id = scraped.json()["data"]["metadata"]["scrapeId"]
        code = server.interact(scrape_id, code="await page.title()", language="python")
        assert code.json()["success"], code.text
        killed = server.interact(scrape_id, code="while (true) {}", language="node", timeout=1)
        assert killed.json()["killed"] is True, killed.text
        turns.add(
            ScriptedTurn(tool_calls=[tool_call("snapshot")], usage=Usage(input=250, output=12)),
            ScriptedTurn(text="Count: 1", usage=Usage(input=300, output=5)),
        )
        prompted = server.post(
            f"/v2/scrape/{scrape_id}/interact",
            json={"prompt": PROMPT},
            headers={
                "traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01",
                "x-request-id": "req-from-client-42",
            },
        )
        assert prompted.json()["output"] == "Count: 1", prompted.text
        yield {"scrape_id": scrape_id, "prompted": prompted}
    finally:
        server.stop()


def _one(spans: list[ReceivedSpan], name: str) -> ReceivedSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, f"{len(found)} spans named {name!r}: {[s.name for s in spans]}"
    return found[0]


def _all_arrived(spans: list[ReceivedSpan]) -> bool:
    """Every span the tests read, the prompt's server span included: it ends after its response
    is sent, so it can reach the receiver a batch after the spans inside it."""
    names = {s.name for s in spans}
    prompt_served = any(s.kind == SERVER and s.parent_span_id == PARENT_ID for s in spans)
    return (
        {"invoke_agent", "execute_tool snapshot", "scrape", "scrape.action wait"} <= names
        and sum(s.name == "execute_code" for s in spans) == 2
        and prompt_served
    )


def test_the_prompt_is_one_trace_under_the_clients_span(
    traced: dict[str, object], receiver: OtlpReceiver
) -> None:
    spans = receiver.wait_for(_all_arrived)
    prompted = traced["prompted"]
    assert isinstance(prompted, httpx.Response)
    assert prompted.headers["x-request-id"] == "req-from-client-42"

    agent = _one(spans, "invoke_agent")
    server = next(s for s in spans if s.span_id == agent.parent_span_id)
    assert server.name == "POST /v2/scrape/{scrape_id}/interact" and server.kind == SERVER
    assert server.trace_id == TRACE_ID and server.parent_span_id == PARENT_ID
    assert server.attributes["http.route"] == "/v2/scrape/{scrape_id}/interact"
    assert server.attributes["http.response.status_code"] == 200
    assert server.attributes["agent.request_id"] == "req-from-client-42"
    assert server.attributes["agent.session.id"] == traced["scrape_id"]
    assert server.resource["service.name"] == "agent-under-test"

    assert agent.trace_id == TRACE_ID
    assert agent.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert agent.attributes["gen_ai.provider.name"] == "openai"
    assert agent.attributes["gen_ai.request.model"] == "gpt-4.1-mini"
    assert agent.attributes["gen_ai.usage.input_tokens"] == 550
    assert agent.attributes["gen_ai.usage.output_tokens"] == 17

    chats = [s for s in spans if s.parent_span_id == agent.span_id and s.name.startswith("chat")]
    assert [c.name for c in chats] == ["chat gpt-4.1-mini"] * 2
    first, second = sorted(chats, key=lambda c: c.attributes["gen_ai.usage.input_tokens"])
    for chat in chats:
        assert chat.kind == CLIENT
        assert chat.attributes["gen_ai.operation.name"] == "chat"
        assert chat.attributes["gen_ai.provider.name"] == "openai"
        assert chat.attributes["gen_ai.request.model"] == "gpt-4.1-mini"
        assert chat.attributes["gen_ai.request.temperature"] == 0.0
        assert "gen_ai.input.messages" not in chat.attributes  # content capture is off
    assert (first.attributes["gen_ai.usage.input_tokens"],
            first.attributes["gen_ai.usage.output_tokens"]) == (250, 12)  # fmt: skip
    assert first.attributes["gen_ai.response.finish_reasons"] == ["tool_calls"]
    assert second.attributes["gen_ai.usage.output_tokens"] == 5

    tool = _one(spans, "execute_tool snapshot")
    assert tool.parent_span_id == agent.span_id
    assert tool.attributes["gen_ai.operation.name"] == "execute_tool"
    assert tool.attributes["gen_ai.tool.name"] == "snapshot"
    assert tool.attributes["gen_ai.tool.call.id"]
    assert "gen_ai.tool.call.arguments" not in tool.attributes


def test_no_span_holds_the_prompt_without_content_capture(
    traced: dict[str, object], receiver: OtlpReceiver
) -> None:
    spans = receiver.wait_for(_all_arrived)
    text = json.dumps([s.attributes for s in spans])
    assert "zebra-marker-7781" not in text
    assert "Count: 1" not in text  # nor the answer


def test_the_scrape_and_its_actions(traced: dict[str, object], receiver: OtlpReceiver) -> None:
    spans = receiver.wait_for(_all_arrived)
    scrape = _one(spans, "scrape")
    server = next(s for s in spans if s.span_id == scrape.parent_span_id)
    assert server.name == "POST /v2/scrape"
    assert scrape.attributes["agent.session.id"] == traced["scrape_id"]
    assert scrape.attributes["agent.scrape.actions"] == 2
    assert scrape.attributes["agent.scrape.formats"] == ["json", "markdown"]
    assert scrape.attributes["url.full"].endswith("/index.html")
    children = [s for s in spans if s.parent_span_id == scrape.span_id]
    names = sorted(s.name for s in children)
    assert names == ["chat gpt-4.1-mini", "scrape.action click", "scrape.action wait"]
    click = next(s for s in children if s.name == "scrape.action click")
    assert click.attributes["agent.action.index"] == 0
    extract = next(s for s in children if s.name.startswith("chat"))
    assert extract.attributes["agent.model.purpose"] == "json"
    assert extract.attributes["gen_ai.usage.input_tokens"] == 90


def test_code_calls(traced: dict[str, object], receiver: OtlpReceiver) -> None:
    spans = receiver.wait_for(_all_arrived)
    runs = {s.attributes["agent.code.language"]: s for s in spans if s.name == "execute_code"}
    assert runs["python"].attributes["agent.code.exit_code"] == 0
    assert runs["python"].attributes["agent.code.killed"] is False
    assert "error.type" not in runs["python"].attributes
    assert runs["node"].attributes["agent.code.killed"] is True
    assert runs["node"].attributes["agent.code.exit_code"] != 0
    assert runs["node"].attributes["error.type"] == "killed"
    for run in runs.values():
        server = next(s for s in spans if s.span_id == run.parent_span_id)
        assert server.name == "POST /v2/scrape/{scrape_id}/interact"


def test_content_capture_puts_the_prompt_in_the_spans(
    receiver: OtlpReceiver, tmp_path: Path, site: str
) -> None:
    turns = Turns(ScriptedTurn(text="Count: 0", usage=Usage(input=10, output=2)))
    with _traced_server(receiver, tmp_path, turns, capture=True) as server:
        scrape_id = server.scrape_id(f"{site}/index.html")
        marker = "capture-marker-5512"
        assert server.interact(scrape_id, prompt=marker).json()["output"] == "Count: 0"

    def captured(spans: list[ReceivedSpan]) -> bool:
        return any(marker in json.dumps(s.attributes) for s in spans if s.name == "invoke_agent")

    spans = receiver.wait_for(captured)
    agent = next(
        s for s in spans if s.name == "invoke_agent" and marker in json.dumps(s.attributes)
    )
    said = json.loads(agent.attributes["gen_ai.input.messages"])
    assert said == [{"role": "user", "parts": [{"type": "text", "content": marker}]}]
    answer = json.loads(agent.attributes["gen_ai.output.messages"])
    assert answer[0]["parts"][0]["content"] == "Count: 0"
    chat = next(s for s in spans if s.parent_span_id == agent.span_id)
    assert marker in chat.attributes["gen_ai.input.messages"]
    assert "gen_ai.system_instructions" in chat.attributes
