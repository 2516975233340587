"""A real Prometheus (Debian's ``prometheus``, installed by ``.ci/setup``) scrapes a running
server with a bearer key, and a metric comes back through Prometheus' own HTTP API; a job
without the key is refused (its ``up`` is 0)."""

from __future__ import annotations

import shutil
import signal
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from agent.server import ServerSettings
from evals.infra import Process
from tests.harness import RunningServer, free_port, in_ci, wait_until
from tests.subprocesses import answers

KEY = "prometheus-key-9d8c7b6a5f"

CONFIG = """\
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: agent
    scrape_interval: 1s
    scrape_timeout: 900ms
    authorization:
      type: Bearer
      credentials: {key}
    static_configs:
      - targets: ["{target}"]
  - job_name: agent_without_key
    scrape_interval: 1s
    scrape_timeout: 900ms
    static_configs:
      - targets: ["{target}"]
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    settings = ServerSettings(
        profiles_dir=tmp_path_factory.mktemp("profiles"), api_keys=f"ci:{KEY}", warm_browsers=0
    )
    with RunningServer(settings) as running:
        yield running


@pytest.fixture(scope="module")
def prometheus(server: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Prometheus on a free loopback port, scraping ``server`` every second; yields its URL."""
    binary = shutil.which("prometheus")
    if binary is None:
        missing = "prometheus is not installed: `apt-get install prometheus` (.ci/setup)"
        if in_ci():
            pytest.fail(missing, pytrace=False)
        pytest.skip(missing)
    folder = tmp_path_factory.mktemp("prometheus")
    config = folder / "prometheus.yml"
    config.write_text(CONFIG.format(key=KEY, target=server.url.removeprefix("http://")))
    port = free_port()
    log = (folder / "prometheus.log").open("wb")
    running = Process(
        [
            binary, f"--config.file={config}", f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: answers(f"{url}/-/ready"), timeout_s=60, interval_s=0.2)
        yield url
    finally:
        running.kill(signal.SIGTERM)
        log.close()


def _query(prometheus: str, expr: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=10).json()
    assert answer["status"] == "success", answer
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


def _value(prometheus: str, expr: str) -> float | None:
    result = _query(prometheus, expr)
    return float(result[0]["value"][1]) if result else None


def test_prometheus_scrapes_the_server_with_a_bearer_key(
    server: RunningServer, prometheus: str, site: str
) -> None:
    scraped = server.post(
        "/v2/scrape", json={"url": f"{site}/index.html"}, headers={"Authorization": f"Bearer {KEY}"}
    )
    assert scraped.status_code == 200, scraped.text

    def counted() -> bool:
        started = _value(prometheus, 'agent_sessions_started_total{job="agent"}')
        return started is not None and started >= 1

    wait_until(counted, timeout_s=60, interval_s=0.5)
    assert _value(prometheus, 'up{job="agent"}') == 1
    assert _value(prometheus, 'agent_sessions_active{job="agent"}') == 1
    successes = 'agent_scrape_duration_seconds_count{job="agent", status="success"}'
    wait_until(lambda: (_value(prometheus, successes) or 0) >= 1, timeout_s=30, interval_s=0.5)
    routes = _query(prometheus, 'agent_http_requests_total{job="agent", route="/v2/scrape"}')
    assert routes and routes[0]["metric"]["method"] == "POST"
    # The job without the key is answered 401: Prometheus counts the target as down.
    wait_until(
        lambda: _value(prometheus, 'up{job="agent_without_key"}') == 0, timeout_s=30,
        interval_s=0.5,
    )  # fmt: skip
