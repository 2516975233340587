"""Usage per key, Firecrawl's way: credits (1 per scrape, 2 per started browser-minute of an
interact session) and model tokens, per key name and day; read unchanged by firecrawl-py and
firecrawl-js; kept across restarts in SQLite or Redis; and budgets that answer 402 before any
browser starts, over HTTP and over MCP."""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from firecrawl import Firecrawl
from firecrawl.v2.client import FirecrawlClient
from firecrawl.v2.utils.error_handler import PaymentRequiredError
from mcp.client.streamable_http import streamable_http_client

from agent.mcp import mount
from agent.messages import Usage
from agent.models import ScriptedModel, ScriptedTurn, tool_call
from agent.server import ServerSettings
from agent.service.usage import UNLIMITED
from evals.infra import redis_server
from tests.harness import HeldMcpSession, RunningServer, Turns, assert_error, quick_agent_settings
from tests.subprocesses import npm_packages

CI_KEY = "usage-ci-key-5e7a1b3c9d"
TINY_KEY = "usage-tiny-key-2f4d6b8a0c"
TOKENS_KEY = "usage-tokens-key-8c6a4e2f0b"
SOLO_KEY = "usage-solo-key-4b2d0f8e6a"
JS_DIR = Path(__file__).resolve().parents[1] / "server" / "js"


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def turns() -> Turns:
    return Turns()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, turns: Turns) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("usage")
    settings = ServerSettings(
        profiles_dir=folder / "profiles",
        api_keys=f"ci:{CI_KEY},tiny:{TINY_KEY},lean:{TOKENS_KEY},solo:{SOLO_KEY}",
        key_budgets={"tiny": {"credits": 3}, "lean": {"tokens": 100}, "solo": {"credits": 1}},
        warm_browsers=0,
    )
    with RunningServer(
        settings,
        model=ScriptedModel(turns, model_id="openai:gpt-4.1-mini"),
        agent_settings=quick_agent_settings(data_dir=folder / "data"),
        mounts=[mount],
    ) as running:
        yield running


def _prompt_turns(turns: Turns) -> None:
    turns.add(
        ScriptedTurn(tool_calls=[tool_call("snapshot")], usage=Usage(input=250, output=12)),
        ScriptedTurn(text="Count: 0", usage=Usage(input=300, output=5)),
    )


@pytest.fixture(scope="module")
def ci_used(server: RunningServer, turns: Turns, site: str) -> str:
    """The ci key scraped with a summary (48 tokens), ran code and a prompt (567 tokens): 3
    credits and 615 tokens; its session stays open."""
    app = Firecrawl(api_url=server.url, api_key=CI_KEY)
    turns.add(ScriptedTurn(text="A page with a counter.", usage=Usage(input=40, output=8)))
    doc = app.scrape(f"{site}/index.html", formats=["markdown", "summary"])
    assert doc.summary == "A page with a counter."
    scrape_id = str(doc.metadata.scrape_id)
    assert app.interact(scrape_id, code="await page.title()", language="python").success
    _prompt_turns(turns)
    assert app.interact(scrape_id, prompt="Read the count.").output == "Count: 0"
    return scrape_id


def test_firecrawl_py_reads_a_keys_usage(server: RunningServer, ci_used: str) -> None:
    app = Firecrawl(api_url=server.url, api_key=CI_KEY)
    credits = app.get_credit_usage()
    assert credits.remaining_credits == UNLIMITED - 3 and credits.plan_credits == UNLIMITED
    assert credits.billing_period_start and credits.billing_period_end
    assert credits.billing_period_start.endswith("-01T00:00:00.000Z")
    tokens = app.get_token_usage()
    assert tokens.remaining_tokens == UNLIMITED - 615
    concurrency = app.get_concurrency()
    assert concurrency.concurrency == 1  # ci's one open session
    assert concurrency.max_concurrency == server.settings.max_sessions
    queue = app.get_queue_status()
    assert queue.jobs_in_queue == 0 and queue.waiting_jobs_in_queue == 0
    assert queue.most_recent_success is not None
    # The historical forms are on the SDK's v2 client (the Firecrawl facade does not list them).
    v2 = FirecrawlClient(api_key=CI_KEY, api_url=server.url)
    by_key = v2.get_credit_usage_historical(by_api_key=True)
    assert [(p.apiKey, p.creditsUsed) for p in by_key.periods if p.apiKey == "ci"] == [
        ("ci", 3)
    ]  # the key's name, never the key
    token_history = v2.get_token_usage_historical(by_api_key=True)
    assert any(p.apiKey == "ci" and p.tokensUsed == 615 for p in token_history.periods)
    assert CI_KEY not in json.dumps(by_key.model_dump())
    totals = v2.get_credit_usage_historical()
    assert totals.periods and all(p.apiKey is None for p in totals.periods)


def test_a_budget_is_a_402_before_any_browser_starts(server: RunningServer, site: str) -> None:
    tiny = Firecrawl(api_url=server.url, api_key=TINY_KEY)
    scrape_id = str(tiny.scrape(f"{site}/index.html").metadata.scrape_id)  # 1 credit
    assert tiny.interact(scrape_id, code="1 + 1", language="node").success  # 2: its first minute
    assert tiny.get_credit_usage().remaining_credits == 0
    assert tiny.get_credit_usage().plan_credits == 3
    launched = server.launches
    with pytest.raises(PaymentRequiredError):
        tiny.scrape(f"{site}/index.html")
    refused = httpx.post(
        f"{server.url}/v2/scrape", json={"url": f"{site}/index.html"}, headers=_auth(TINY_KEY)
    )
    body = assert_error(refused, 402, "tiny", "3 credits")
    assert body["code"] == "INSUFFICIENT_CREDITS"
    assert server.launches == launched, "a browser started for a refused scrape"
    again = server.post(
        f"/v2/scrape/{scrape_id}/interact", json={"code": "1", "language": "node"},
        headers=_auth(TINY_KEY),
    )  # fmt: skip
    assert_error(again, 402, "Insufficient credits")
    # Another key is not held back by tiny's budget.
    assert (
        httpx.get(f"{server.url}/v2/team/credit-usage", headers=_auth(CI_KEY)).json()["data"][
            "planCredits"
        ]
        == UNLIMITED
    )


def test_a_token_budget_refuses_only_what_needs_the_model(
    server: RunningServer, turns: Turns, site: str
) -> None:
    lean = Firecrawl(api_url=server.url, api_key=TOKENS_KEY)
    scrape_id = str(lean.scrape(f"{site}/index.html").metadata.scrape_id)
    _prompt_turns(turns)
    assert lean.interact(scrape_id, prompt="Read the count.").output == "Count: 0"  # 567 > 100
    assert lean.get_token_usage().remaining_tokens == 0
    refused = server.post(
        f"/v2/scrape/{scrape_id}/interact", json={"prompt": "Again."}, headers=_auth(TOKENS_KEY)
    )
    assert assert_error(refused, 402, "lean", "100 model tokens")["code"] == "INSUFFICIENT_TOKENS"
    summary = server.post(
        "/v2/scrape", json={"url": f"{site}/index.html", "formats": ["summary"]},
        headers=_auth(TOKENS_KEY),
    )  # fmt: skip
    assert_error(summary, 402, "Insufficient tokens")
    assert lean.interact(scrape_id, code="1 + 1", language="node").success  # code needs none
    assert lean.scrape(f"{site}/other.html").metadata.status_code == 200  # nor a plain scrape


@contextlib.asynccontextmanager
async def _mcp_over_http(url: str, key: str) -> AsyncIterator[Any]:
    async with (
        httpx2.AsyncClient(headers=_auth(key), timeout=httpx2.Timeout(30, read=120)) as http,
        streamable_http_client(f"{url}/mcp", http_client=http) as streams,
    ):
        yield streams


async def test_mcp_over_http_counts_for_its_key_and_keeps_its_budget(
    server: RunningServer, site: str
) -> None:
    """An MCP tool call runs apart from its POST, yet is counted for (and held to the budget
    of) the key that POST came with: it cannot go round a budget."""
    held = await HeldMcpSession(lambda: _mcp_over_http(server.url, SOLO_KEY)).start()
    try:
        await held.text("scrape", url=f"{site}/index.html")
        async with httpx.AsyncClient(headers=_auth(SOLO_KEY)) as client:
            spent = (await client.get(f"{server.url}/v2/team/credit-usage")).json()
        assert spent["data"]["remainingCredits"] == 0  # counted for solo, not "anonymous"
        refused = await held.error("scrape", url=f"{site}/index.html")
        assert "Insufficient credits" in refused and "'solo'" in refused
    finally:
        await held.close()
    async with httpx.AsyncClient(headers=_auth(CI_KEY)) as client:
        metrics = (await client.get(f"{server.url}/metrics")).text
    # MCP's own route is a plain Starlette one: still counted under its template.
    assert 'agent_http_requests_total{method="POST",route="/mcp",status="200"}' in metrics


@pytest.fixture(scope="module")
def js_sdk() -> Path:
    return npm_packages(JS_DIR, "@mendable/firecrawl-js", "the JS SDK (@mendable/firecrawl-js)")


def test_firecrawl_js_reads_the_same(js_sdk: Path, server: RunningServer, ci_used: str) -> None:
    ran = subprocess.run(
        ["node", "usage_check.mjs", server.url, CI_KEY],
        cwd=js_sdk, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    report = json.loads(ran.stdout.strip().splitlines()[-1])
    ours = httpx.get(f"{server.url}/v2/team/credit-usage", headers=_auth(CI_KEY)).json()["data"]
    assert report["credits"]["remainingCredits"] == ours["remainingCredits"]
    assert report["credits"]["planCredits"] == UNLIMITED
    assert report["tokens"]["remainingTokens"] <= UNLIMITED - 615
    assert report["concurrency"]["concurrency"] >= 1
    assert report["concurrency"]["maxConcurrency"] == server.settings.max_sessions
    assert report["queue"]["success"] is True and report["queue"]["jobsInQueue"] == 0
    names = {p["apiKey"] for p in report["creditHistory"]["periods"]}
    assert {"ci", "tiny"} <= names
    assert any(p["apiKey"] == "ci" and p["tokensUsed"] >= 615
               for p in report["tokenHistory"]["periods"])  # fmt: skip
    totals = report["creditTotals"]["periods"]
    assert totals and "apiKey" not in totals[-1]
    assert totals[-1]["creditsUsed"] == sum(
        p["creditsUsed"] for p in report["creditHistory"]["periods"]
        if p["startDate"] == totals[-1]["startDate"]
    )  # fmt: skip


def _spent(server: RunningServer, key: str) -> int:
    data = httpx.get(f"{server.url}/v2/team/credit-usage", headers=_auth(key)).json()["data"]
    return int(UNLIMITED - data["remainingCredits"])


@pytest.mark.parametrize("store", ["sqlite", "redis"])
def test_usage_survives_a_restart(tmp_path: Path, site: str, store: str) -> None:
    with contextlib.ExitStack() as stack:
        redis_url = stack.enter_context(redis_server()) if store == "redis" else None
        for number, expected in ((1, 1), (2, 2)):
            # Each server has a data folder of its own with Redis: the counts are Redis's.
            data = tmp_path / ("data" if redis_url is None else f"data-{number}")
            settings = ServerSettings(
                profiles_dir=tmp_path / "profiles", api_keys=f"ci:{CI_KEY}", warm_browsers=0,
                redis_url=redis_url,
            )  # fmt: skip
            with RunningServer(
                settings, agent_settings=quick_agent_settings(data_dir=data)
            ) as running:
                scraped = running.post(
                    "/v2/scrape", json={"url": f"{site}/index.html"}, headers=_auth(CI_KEY)
                )
                assert scraped.status_code == 200, scraped.text
                assert _spent(running, CI_KEY) == expected
        if redis_url is None:
            assert (tmp_path / "data" / "usage.sqlite3").is_file()
