"""The small pieces of observability, each on its own: request ids, the JSON log line, end
reasons and outcomes as labels, named keys and budgets, months, and tracing staying off."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from pydantic import SecretStr

from agent.errors import BrowserError, ConfigError, RequestError, SessionLostError
from agent.observability import (
    JsonFormatter,
    RequestInfo,
    begin_request,
    end_request,
    note_key,
    note_session,
    sane_request_id,
    tracing_wanted,
)
from agent.observability.redaction import install_redaction
from agent.service.keys import KeyBudget, match_key, parse_api_keys, unnamed_key_name
from agent.service.metrics import END_REASONS, end_reason, outcome_of
from agent.service.settings import ServerSettings
from agent.service.usage import UsageLedger, month_bounds
from agent.service.usage_store import SqliteUsageStore, UsageRow
from tests.harness import agent_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("req-abc_123.x:y@z", True),
        ("a" * 128, True),
        ("a" * 129, False),
        ("has space", False),
        ('quote"d', False),
        ("new\nline", False),
        ("", False),
        ("-starts-with-dash", False),
    ],
)
def test_a_client_request_id_is_kept_only_when_it_is_a_sane_token(given: str, kept: bool) -> None:
    assert (sane_request_id(given) == given) is kept


def test_a_json_line_carries_the_request_it_was_made_in() -> None:
    install_redaction(["secret-key-value-123456"])
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("tests.observability.json")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    scope = {"route": type("Route", (), {"path": "/v2/scrape/{scrape_id}/interact"})()}
    token = begin_request(RequestInfo("req-1", method="POST", scope=scope))
    try:
        note_key("ci")
        note_session("abc-session")
        logger.info("used %s", "secret-key-value-123456")
    finally:
        end_request(token)
    logger.info("outside any request")
    logger.removeHandler(handler)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["request_id"] == "req-1" and first["key_name"] == "ci"
    assert first["session_id"] == "abc-session" and first["method"] == "POST"
    assert first["route"] == "/v2/scrape/{scrape_id}/interact"
    assert first["message"] == "used [redacted]"
    assert {"time", "level", "logger", "duration_ms"} <= set(first)
    assert first["time"].endswith("Z") and first["level"] == "INFO"
    assert set(second) == {"time", "level", "logger", "message"}


@pytest.mark.parametrize(
    ("reason", "label"),
    [
        ("stopped by the client", "stopped"),
        ("stopped by its MCP client", "stopped"),
        ("closed: its MCP client went away", "stopped"),
        ("expired: its TTL of 600 s ran out", "ttl"),
        ("expired: it was idle for longer than its activity TTL of 300 s", "idle"),
        ("expired: its TTL of 5 s ran out (its replica was gone)", "ttl"),
        ("lost when its replica went away", "lost"),
        ("closed because its browser was lost", "lost"),
        (
            "closed because its browser went past the session's memory limit, "
            "AGENT_BROWSER_MEMORY_MB (1024 MiB)",
            "lost",
        ),
        ("closed at server shutdown", "shutdown"),
        ("closed because its scrape failed", "error"),
        ("closed because the session store failed", "error"),
    ],
)
def test_why_a_session_ended_is_one_of_a_few_labels(reason: str, label: str) -> None:
    assert end_reason(reason) == label
    assert label in END_REASONS


def test_a_failure_is_labelled_by_the_code_it_is_answered_with() -> None:
    assert outcome_of(RequestError("SCRAPE_TIMEOUT", "slow")) == "SCRAPE_TIMEOUT"
    assert outcome_of(SessionLostError("gone")) == "SESSION_LOST"
    assert outcome_of(BrowserError("no")) == "BROWSER_UNAVAILABLE"
    assert outcome_of(ValueError("what")) == "INTERNAL_ERROR"


def test_keys_are_named_and_unnamed_ones_get_a_short_hash() -> None:
    keys = parse_api_keys(
        [SecretStr("ci:key-one-123456"), SecretStr("alice:key-two-654321"), SecretStr("bare-key")]
    )
    assert [k.name for k in keys] == ["ci", "alice", unnamed_key_name("bare-key")]
    assert [k.value for k in keys] == [b"key-one-123456", b"key-two-654321", b"bare-key"]
    assert unnamed_key_name("bare-key").startswith("key-") and len(unnamed_key_name("x")) == 12
    assert "key-one" not in repr(keys)
    assert match_key(b"key-two-654321", keys) is keys[1]
    assert match_key(b"alice:key-two-654321", keys) is None  # the name is not part of the key
    # An entry whose part before ':' is no name is a bare key, kept whole as before.
    assert parse_api_keys([SecretStr("a b:c")])[0].value == b"a b:c"


def test_two_keys_with_one_name_and_a_budget_for_no_key_stop_the_server() -> None:
    with pytest.raises(ConfigError, match="more than one key"):
        ServerSettings(api_keys="ci:one-key-12345,ci:two-key-12345")
    with pytest.raises(ConfigError, match="no key in AGENT_API_KEYS is named"):
        ServerSettings(api_keys="ci:one-key-12345", key_budgets={"tiny": {"credits": 5}})
    open_server = ServerSettings(key_budgets={"anonymous": {"credits": 5}})
    assert open_server.key_budgets["anonymous"].credits == 5


def test_named_keys_and_budgets_from_the_toml_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent_config(
        monkeypatch,
        tmp_path,
        '[server]\napi_keys = ["ci:KEY1-abcdefgh", "tiny:KEY2-abcdefgh"]\n'
        "[server.key_budgets]\ntiny = { credits = 1000, tokens = 200000 }\n",
    )
    monkeypatch.delenv("AGENT_API_KEYS", raising=False)
    settings = ServerSettings()
    assert [k.name for k in settings.keys()] == ["ci", "tiny"]
    assert settings.key_values() == [b"KEY1-abcdefgh", b"KEY2-abcdefgh"]
    budget = settings.key_budgets["tiny"]
    assert (budget.credits, budget.tokens) == (1000, 200000)


def test_budgets_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_API_KEYS", "tiny:KEY2-abcdefgh")
    monkeypatch.setenv("AGENT_KEY_BUDGETS", '{"tiny": {"credits": 3}}')
    assert ServerSettings().key_budgets["tiny"].credits == 3


def test_months_run_from_their_first_instant_to_the_next_ones() -> None:
    assert month_bounds("2026-11") == ("2026-11-01T00:00:00.000Z", "2026-12-01T00:00:00.000Z")
    assert month_bounds("2026-12") == ("2026-12-01T00:00:00.000Z", "2027-01-01T00:00:00.000Z")


def test_tracing_is_wanted_only_with_an_otlp_endpoint() -> None:
    assert not tracing_wanted({})
    assert tracing_wanted({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert tracing_wanted({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://h:4318/v1/traces"})
    endpoint = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}
    assert not tracing_wanted({**endpoint, "OTEL_SDK_DISABLED": "true"})
    assert not tracing_wanted({**endpoint, "OTEL_TRACES_EXPORTER": "none"})


def test_without_an_endpoint_the_tracing_sdk_is_not_even_loaded(tmp_path: Path) -> None:
    """Tracing off costs nothing: an app is built, and OpenTelemetry's tracing SDK and OTLP
    exporter are never imported. (The redis client loads the SDK's metrics part on its own.)"""
    script = (
        "import sys\n"
        "from agent.server import ServerSettings, create_app\n"
        "app = create_app(ServerSettings(profiles_dir=sys.argv[1], warm_browsers=0))\n"
        "assert app.state.server.telemetry.tracer is None\n"
        "print(sorted(m for m in sys.modules if m.startswith(\n"
        "    ('opentelemetry.sdk.trace', 'opentelemetry.exporter'))))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["PYTHONPATH"] = str(ROOT)
    ran = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "[]"


async def test_interact_minutes_are_charged_as_they_start(tmp_path: Path) -> None:
    """2 credits per started browser-minute, from the first interact call to the session's
    end, to the key that scraped it; written to the store and read back per key."""
    now = [1000.0]
    ledger = UsageLedger(SqliteUsageStore(tmp_path / "usage.sqlite3"), {}, clock=lambda: now[0])
    await ledger.start()
    try:
        ledger.scraped("ci")
        ledger.interacting("s1", "ci")  # minute 1 starts
        assert await ledger.spent("ci") == (3, 0)
        now[0] += 59
        ledger.interacting("s1", "ci")  # still minute 1
        assert await ledger.spent("ci") == (3, 0)
        now[0] += 2
        ledger.interacting("s1", "ci")  # 61 s: minute 2 has started
        assert await ledger.spent("ci") == (5, 0)
        now[0] += 64
        ledger.session_ended("s1")  # 125 s: minute 3 had started
        ledger.session_ended("s1")  # told twice: charged once
        ledger.session_ended("never-interacted")
        ledger.add("ci", tokens=120)
        await ledger.flush()
        assert await ledger.spent("ci") == (7, 120)
        assert await ledger.spent("alice") == (0, 0)
    finally:
        await ledger.close()
    reopened = SqliteUsageStore(tmp_path / "usage.sqlite3")
    months = await reopened.months()
    await reopened.close()
    assert [(m.key, m.credits, m.tokens) for m in months] == [("ci", 7, 120)]


async def test_a_budget_refuses_only_once_it_is_spent(tmp_path: Path) -> None:
    budgets = {"tiny": KeyBudget(credits=2, tokens=50)}
    ledger = UsageLedger(SqliteUsageStore(tmp_path / "usage.sqlite3"), budgets)
    await ledger.check("tiny", tokens=True)
    ledger.add("tiny", credits=1, tokens=49)
    await ledger.check("tiny", tokens=True)
    ledger.add("tiny", tokens=1)
    await ledger.check("tiny", tokens=False)  # code needs no tokens
    with pytest.raises(RequestError) as tokens:
        await ledger.check("tiny", tokens=True)
    assert tokens.value.code == "INSUFFICIENT_TOKENS"
    ledger.add("tiny", credits=1)
    with pytest.raises(RequestError) as credits:
        await ledger.check("tiny", tokens=False)
    assert credits.value.code == "INSUFFICIENT_CREDITS"
    await ledger.check("someone-else", tokens=True)  # no budget, no limit
    await ledger.close()


class _HeldStore(SqliteUsageStore):
    """A SQLite store whose writes wait to be let through: a slow store (Redis far away)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.let_through = asyncio.Event()

    async def add(self, rows: Sequence[UsageRow]) -> None:
        await self.let_through.wait()
        await super().add(rows)


async def test_counts_being_written_still_count(tmp_path: Path) -> None:
    """While a write is under way its counts have left the pending ones but are not yet in
    the store: they still count, so no budget check slips through that window."""
    store = _HeldStore(tmp_path / "usage.sqlite3")
    ledger = UsageLedger(store, {"tiny": KeyBudget(credits=1)})
    ledger.add("tiny", credits=1)
    writing = asyncio.ensure_future(ledger.flush())
    await asyncio.sleep(0.05)  # the write has started and waits
    assert not writing.done()
    assert await ledger.spent("tiny") == (1, 0)
    with pytest.raises(RequestError):
        await ledger.check("tiny", tokens=False)
    store.let_through.set()
    await writing
    assert await ledger.spent("tiny") == (1, 0)  # in the store now, and counted once
    await ledger.close()
