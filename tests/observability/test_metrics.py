"""Prometheus metrics at /metrics: every family and its labels after a scrape, a code call and
a prompt (scripted model), behind the API keys (401 without one), public when asked, no id in
any label, and every metric the Grafana dashboard queries exists."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from agent.messages import Usage
from agent.models import ScriptedModel, ScriptedTurn, tool_call
from agent.server import ServerSettings
from agent.service.metrics import END_REASONS
from tests.harness import RunningServer, Turns, assert_error

KEY = "metrics-key-3f9a7c21e8"
AUTH = {"Authorization": f"Bearer {KEY}"}
DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana-dashboard.json"


@pytest.fixture(scope="module")
def turns() -> Turns:
    return Turns()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, turns: Turns) -> Iterator[RunningServer]:
    settings = ServerSettings(
        profiles_dir=tmp_path_factory.mktemp("profiles"), api_keys=f"ci:{KEY}", warm_browsers=0
    )
    model = ScriptedModel(turns, model_id="openai:gpt-4.1-mini")
    with RunningServer(settings, model=model) as running:
        yield running


@pytest.fixture(scope="module")
def activity(server: RunningServer, turns: Turns, site: str) -> dict[str, str]:
    """One of each: a scrape, a python code call, a killed one, a prompt with a tool call; and
    a stopped session. Returns the scrape id and the exposition read afterwards."""
    scraped = server.post("/v2/scrape", json={"url": f"{site}/index.html"}, headers=AUTH)
    scrape_id = scraped.json()["data"]["metadata"]["scrapeId"]
    ran = server.post(
        f"/v2/scrape/{scrape_id}/interact",
        json={"code": "await page.title()", "language": "python"},
        headers=AUTH,
    )
    assert ran.json()["success"], ran.text
    killed = server.post(
        f"/v2/scrape/{scrape_id}/interact",
        json={"code": "import time\nwhile True: time.sleep(0.05)", "language": "python",
              "timeout": 1},
        headers=AUTH,
    )  # fmt: skip
    assert killed.json()["killed"] is True, killed.text
    turns.add(
        ScriptedTurn(tool_calls=[tool_call("snapshot")], usage=Usage(input=250, output=12)),
        ScriptedTurn(text="Count: 0", usage=Usage(input=300, output=5)),
    )
    prompted = server.post(
        f"/v2/scrape/{scrape_id}/interact", json={"prompt": "Read the count."}, headers=AUTH
    )
    assert prompted.json()["output"] == "Count: 0", prompted.text
    second = server.post("/v2/scrape", json={"url": f"{site}/other.html"}, headers=AUTH)
    stopped_id = second.json()["data"]["metadata"]["scrapeId"]
    stop = httpx.delete(f"{server.url}/v2/scrape/{stopped_id}/interact", headers=AUTH, timeout=60)
    assert stop.status_code == 200, stop.text
    text = httpx.get(f"{server.url}/metrics", headers=AUTH, timeout=30).text
    return {"scrape_id": scrape_id, "stopped_id": stopped_id, "text": text}


def _samples(text: str) -> dict[str, list[Sample]]:
    return {family.name: list(family.samples) for family in text_string_to_metric_families(text)}


def _value(samples: list[Sample], name: str, **labels: str) -> float:
    found = [s.value for s in samples if s.name == name and s.labels == labels]
    assert found, f"no {name}{labels} in {[(s.name, s.labels) for s in samples]}"
    return found[0]


def test_metrics_need_a_key(server: RunningServer) -> None:
    assert_error(httpx.get(f"{server.url}/metrics"), 401)
    wrong = {"Authorization": "Bearer not-the-key-at-all"}
    assert_error(httpx.get(f"{server.url}/metrics", headers=wrong), 401)
    assert httpx.get(f"{server.url}/metrics", headers=AUTH).status_code == 200


def test_metrics_can_be_public(tmp_path: Path) -> None:
    settings = ServerSettings(
        profiles_dir=tmp_path, api_keys=KEY, metrics_public=True, warm_browsers=0
    )
    with RunningServer(settings) as running:
        answer = httpx.get(f"{running.url}/metrics")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/plain")
        assert "agent_sessions_active 0.0" in answer.text
        # The API itself still wants the key.
        assert_error(running.scrape("http://127.0.0.1:9/"), 401)


def test_metrics_can_be_off(tmp_path: Path) -> None:
    with RunningServer(ServerSettings(profiles_dir=tmp_path, metrics=False)) as running:
        assert_error(httpx.get(f"{running.url}/metrics"), 404, "AGENT_METRICS")


def test_the_families_and_their_labels(activity: dict[str, str]) -> None:
    families = _samples(activity["text"])
    assert _value(families["agent_sessions_active"], "agent_sessions_active") == 1
    assert _value(families["agent_sessions_started"], "agent_sessions_started_total") == 2
    ended = families["agent_sessions_ended"]
    assert {s.labels["reason"] for s in ended if s.name.endswith("_total")} == set(END_REASONS)
    assert _value(ended, "agent_sessions_ended_total", reason="stopped") == 1
    assert _value(families["agent_browsers_ready"], "agent_browsers_ready") == 0
    waiting = families["agent_queue_waiting"]
    assert _value(waiting, "agent_queue_waiting", queue="turn") == 0
    assert _value(waiting, "agent_queue_waiting", queue="browser") == 0

    scrapes = families["agent_scrape_duration_seconds"]
    assert _value(scrapes, "agent_scrape_duration_seconds_count", status="success") == 2
    interacts = families["agent_interact_duration_seconds"]
    count = "agent_interact_duration_seconds_count"
    assert _value(interacts, count, mode="code", language="python", status="success") == 1
    assert _value(interacts, count, mode="code", language="python", status="killed") == 1
    assert _value(interacts, count, mode="prompt", language="", status="success") == 1
    tools = families["agent_tool_calls"]
    assert _value(tools, "agent_tool_calls_total", tool="snapshot", outcome="ok") == 1
    killed = families["agent_code_killed"]
    assert _value(killed, "agent_code_killed_total", language="python") == 1

    http = families["agent_http_requests"]
    route = "/v2/scrape/{scrape_id}/interact"
    assert _value(http, "agent_http_requests_total", route=route, method="POST", status="200") == 3
    assert _value(http, "agent_http_requests_total", route="/v2/scrape", method="POST",
                  status="200") == 2  # fmt: skip
    assert "agent_http_request_duration_seconds" in families

    model = {"gen_ai_provider_name": "openai", "gen_ai_request_model": "gpt-4.1-mini",
             "gen_ai_operation_name": "chat"}  # fmt: skip
    tokens = families["gen_ai_client_token_usage"]
    assert _value(tokens, "gen_ai_client_token_usage_sum", gen_ai_token_type="input",
                  **model) == 550  # fmt: skip
    assert _value(tokens, "gen_ai_client_token_usage_sum", gen_ai_token_type="output",
                  **model) == 17  # fmt: skip
    assert _value(tokens, "gen_ai_client_token_usage_count", gen_ai_token_type="input",
                  **model) == 2  # fmt: skip
    durations = families["gen_ai_client_operation_duration_seconds"]
    assert _value(durations, "gen_ai_client_operation_duration_seconds_count", error_type="",
                  **model) == 2  # fmt: skip


def test_no_label_holds_an_id(activity: dict[str, str]) -> None:
    """Routes are templates: neither session's id is anywhere in the exposition."""
    for session_id in (activity["scrape_id"], activity["stopped_id"]):
        assert session_id not in activity["text"]
    for family in text_string_to_metric_families(activity["text"]):
        for sample in family.samples:
            for name, value in sample.labels.items():
                assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-", value), (family.name, name)


def test_every_metric_the_dashboard_queries_exists(activity: dict[str, str]) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    assert len(exprs) >= 10
    exposed = {s.name for family in text_string_to_metric_families(activity["text"])
               for s in family.samples}  # fmt: skip
    for expr in exprs:
        # Label names (in "by (...)" and "{...}") are not metrics: leave them out.
        names_only = re.sub(r"\b(?:by|without)\s*\([^)]*\)|\{[^}]*\}", "", expr)
        for metric in re.findall(r"\b((?:agent|gen_ai|process)_[a-z_]+)\b", names_only):
            assert metric in exposed, f"the dashboard queries {metric}, which is not exposed"
