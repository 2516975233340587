"""One call followed across replicas: a request for another replica's session is forwarded
with its request id and its trace. Two ``agent serve`` replicas share Redis, export spans to a
real OTLP/HTTP receiver and write JSON logs; the client sends its ``traceparent`` and
``X-Request-Id`` to the replica that does not own the session."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from evals.infra import Replica
from tests.otlp_receiver import OtlpReceiver, ReceivedSpan, otlp_receiver

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_ID = "b7ad6b7169203331"
ROUTE = "POST /v2/scrape/{scrape_id}/interact"


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    with otlp_receiver() as running:
        yield running


@pytest.fixture
def pair(
    redis_url: str, receiver: OtlpReceiver, tmp_path: Path
) -> Iterator[tuple[Replica, Replica]]:
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        "OTEL_BSP_SCHEDULE_DELAY": "50",
        "AGENT_LOG_FORMAT": "json",
    }
    started = [
        Replica(redis_url=redis_url, endpoints=[], profiles=tmp_path,
                log=tmp_path / f"replica-{n}.log", env=env)
        for n in range(2)
    ]  # fmt: skip
    try:
        yield started[0], started[1]
    finally:
        for replica in started:
            replica.stop()
        redis.Redis.from_url(redis_url).flushdb()


def _log(tmp_path: Path, number: int) -> list[dict[str, Any]]:
    text = (tmp_path / f"replica-{number}.log").read_text(errors="replace")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _interact_spans(spans: list[ReceivedSpan], trace_id: str) -> list[ReceivedSpan]:
    return [s for s in spans if s.name == ROUTE and s.trace_id == trace_id]


def test_trace_and_request_id_follow_a_forwarded_request(
    pair: tuple[Replica, Replica], receiver: OtlpReceiver, site: str, tmp_path: Path
) -> None:
    owner, other = pair
    scrape_id = owner.scrape(f"{site}/form.html").json()["data"]["metadata"]["scrapeId"]
    answer = httpx.post(
        f"{other.url}/v2/scrape/{scrape_id}/interact",
        json={"code": "await page.title()", "language": "python"},
        headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01", "X-Request-Id": "req-across-1"},
        timeout=120,
    )
    assert answer.json()["success"], answer.text
    assert answer.headers.get_list("x-request-id") == ["req-across-1"]

    spans = receiver.wait_for(lambda spans: len(_interact_spans(spans, TRACE_ID)) == 2)
    forwarding, serving = sorted(
        _interact_spans(spans, TRACE_ID), key=lambda s: s.parent_span_id != PARENT_ID
    )
    assert forwarding.parent_span_id == PARENT_ID  # the client's span
    assert forwarding.attributes["server.port"] == other.port
    assert serving.parent_span_id == forwarding.span_id  # carried by the forward
    assert serving.attributes["server.port"] == owner.port
    for span in (forwarding, serving):
        assert span.attributes["agent.request_id"] == "req-across-1"
        assert span.attributes["agent.session.id"] == scrape_id
        assert span.attributes["http.route"] == "/v2/scrape/{scrape_id}/interact"
    code = receiver.wait_for(
        lambda spans: any(s.name == "execute_code" and s.trace_id == TRACE_ID for s in spans)
    )
    ran = next(s for s in code if s.name == "execute_code" and s.trace_id == TRACE_ID)
    assert ran.parent_span_id == serving.span_id  # the code ran on the owner, in this trace

    for number in (0, 1):  # both replicas' access lines carry the client's id
        access = [e for e in _log(tmp_path, number) if e.get("request_id") == "req-across-1"
                  and e["logger"] == "uvicorn.access"]  # fmt: skip
        assert len(access) == 1, number
        assert access[0]["route"] == "/v2/scrape/{scrape_id}/interact"
        assert access[0]["session_id"] == scrape_id and access[0]["status"] == 200


def test_an_id_made_by_the_first_replica_is_carried_too(
    pair: tuple[Replica, Replica], receiver: OtlpReceiver, site: str, tmp_path: Path
) -> None:
    owner, other = pair
    scrape_id = owner.scrape(f"{site}/form.html").json()["data"]["metadata"]["scrapeId"]
    answer = other.interact(scrape_id, code="1 + 1", language="node")
    assert answer.json()["success"], answer.text
    made = answer.headers["x-request-id"]
    owners_lines = [e for e in _log(tmp_path, 0) if e.get("request_id") == made]
    assert any(e["logger"] == "uvicorn.access" for e in owners_lines)

    def both_sides(spans: list[ReceivedSpan]) -> bool:
        return sum(s.attributes.get("agent.request_id") == made for s in spans) == 2

    spans = receiver.wait_for(both_sides)
    first, second = (s for s in spans if s.attributes.get("agent.request_id") == made)
    assert first.trace_id == second.trace_id  # one trace, begun by the replica asked first
    assert {first.parent_span_id, second.parent_span_id} - {""} in (
        {first.span_id},
        {second.span_id},
    )
