"""Every cassette says where it came from, targets the real API hosts, and holds no secret."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped, unused-ignore]

from agent.models.providers import recordable_providers
from evals.cassettes import SECRET_REQUEST_HEADERS
from tests.models.record_cassettes import CASSETTE_DIR, PROVENANCE_HEADER

CASSETTES = sorted(CASSETTE_DIR.glob("*.yaml"))
HOSTS = tuple(f"{spec.real_origin}/" for spec in recordable_providers())
"""The real API hosts (the provider table's; test_providers.py pins them)."""


def test_there_are_cassettes() -> None:
    assert len(CASSETTES) >= 10


@pytest.mark.parametrize("path", CASSETTES, ids=lambda p: p.stem)
def test_cassette_is_clean(path: Path) -> None:
    text = path.read_text()
    data = yaml.safe_load(text)
    assert data["interactions"], "empty cassette"
    for interaction in data["interactions"]:
        request, response = interaction["request"], interaction["response"]
        assert request["uri"].startswith(HOSTS)
        sent = {name.lower() for name in request["headers"]}
        assert not sent & SECRET_REQUEST_HEADERS
        provenance = response["headers"].get(PROVENANCE_HEADER)
        assert provenance and "recorded" in provenance[0]
    assert "test-key" not in text
    assert not re.search(r"Bearer |\bsk-[A-Za-z0-9]", text), "a key leaked into the cassette"
