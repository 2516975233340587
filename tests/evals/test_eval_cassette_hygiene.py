"""The shipped cassettes: one per task and format, real API hosts, provenance, no secrets."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from agent.models.providers import recordable_providers
from evals.backends import reference_model_id
from evals.cassettes import CASSETTES_DIR, cassette_path, read_provenance
from evals.tasks import Task

SECRET_HEADERS = {"authorization", "x-api-key", "api-key", "cookie", "set-cookie"}
KEY_LIKE = re.compile(r"\b(sk-[A-Za-z0-9_-]{16,}|sk-ant-[A-Za-z0-9_-]{16,})")
HOSTS = {spec.prefix: f"{spec.real_origin}/" for spec in recordable_providers()}
"""Each recordable provider's real API host (the provider table's; its test pins them)."""


def _cassettes() -> list[Path]:
    return sorted(CASSETTES_DIR.glob("*/*.yaml"))


def test_every_task_has_a_reference_cassette_in_both_formats(all_tasks: list[Task]) -> None:
    for provider in HOSTS:
        for task in all_tasks:
            path = cassette_path(CASSETTES_DIR, reference_model_id(provider), task.id)
            assert path.is_file(), f"missing {path}: run agent eval --record --provider {provider}"


def test_cassettes_hold_no_secrets_and_name_the_real_hosts() -> None:
    for path in _cassettes():
        text = path.read_text(encoding="utf-8")
        assert not KEY_LIKE.search(text), f"{path} holds something like an API key"
        data = yaml.safe_load(text)
        provider = path.parent.name.split("-", 1)[0]
        for interaction in data["interactions"]:
            request, response = interaction["request"], interaction["response"]
            assert request["uri"].startswith(HOSTS[provider]), request["uri"]
            leaked = SECRET_HEADERS & {h.lower() for h in request["headers"]}
            assert not leaked, f"{path} keeps request headers {leaked}"
            assert not SECRET_HEADERS & {h.lower() for h in response["headers"]}


def test_every_cassette_records_its_provenance() -> None:
    for path in _cassettes():
        provenance = read_provenance(path)
        assert provenance is not None, f"{path} has no provenance"
        assert provenance.producer.startswith("reference policy")
        assert re.fullmatch(r"\d{4}-\d\d-\d\d", provenance.recorded)


def test_cassettes_stay_small() -> None:
    total = sum(path.stat().st_size for path in _cassettes())
    assert total < 12 * 1024 * 1024, f"cassettes take {total / 1e6:.1f} MB"
