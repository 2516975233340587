"""The Host header, forged: links (cdpUrl, live views, with their tokens) are built on it, so a
request naming a host the server is not reached at is refused, over real HTTP and WebSocket,
on every route that returns or serves a link; the server's own names, AGENT_ALLOWED_HOSTS and
AGENT_PUBLIC_URL still work."""

from __future__ import annotations

import base64
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agent.server import ServerSettings
from agent.server.trusted_host import host_refusal
from tests.harness import RunningServer, assert_error

FORGED = "evil.example"


@pytest.fixture(scope="module")
def served(profiles_dir: Path) -> Iterator[RunningServer]:
    settings = ServerSettings(
        profiles_dir=profiles_dir, warm_browsers=0, allowed_hosts="api.example.com,.corp.example"
    )
    with RunningServer(settings) as server:
        yield server


@pytest.fixture(scope="module")
def scraped(served: RunningServer, site: str) -> Iterator[dict[str, str]]:
    scrape_id = served.scrape_id(f"{site}/page")
    links = served.interact(scrape_id, code="1", language="python").json()
    yield {"id": scrape_id, **links}
    served.stop_session(scrape_id)


def _port(served: RunningServer) -> int:
    return int(served.url.rsplit(":", 1)[1])


def upgrade_status(served: RunningServer, path: str, host: str) -> int:
    """The status a WebSocket handshake for ``path`` with ``Host: host`` is answered with."""
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", _port(served)), timeout=10) as connection:
        connection.sendall(request.encode())
        status_line = connection.recv(4096).split(b"\r\n", 1)[0]
    return int(status_line.split()[1])


def test_a_scrape_with_a_forged_host_is_refused_before_any_browser_starts(
    served: RunningServer, site: str
) -> None:
    before = served.launches
    response = served.post("/v2/scrape", json={"url": f"{site}/page"}, headers={"Host": FORGED})
    assert_error(response, 400, FORGED, "AGENT_ALLOWED_HOSTS")
    assert served.launches == before


@pytest.mark.parametrize("host", [FORGED, f"{FORGED}:80", "127.0.0.2", "localhost:1", "[::2]"])
def test_an_interact_with_a_forged_host_returns_no_links(
    served: RunningServer, scraped: dict[str, str], host: str
) -> None:
    response = served.post(
        f"/v2/scrape/{scraped['id']}/interact",
        json={"code": "1", "language": "python"},
        headers={"Host": host},
    )
    body = assert_error(response, 400, "Host header")
    assert "token" not in response.text and "cdpUrl" not in body


def test_a_live_view_page_with_a_forged_host_is_refused(
    served: RunningServer, scraped: dict[str, str]
) -> None:
    path = scraped["liveViewUrl"].removeprefix(served.url)
    assert_error(httpx.get(served.url + path, headers={"Host": FORGED}, timeout=30), 400)
    assert httpx.get(served.url + path, timeout=30).status_code == 200


@pytest.mark.parametrize("kind", ["cdp", "live"])
def test_a_websocket_with_a_forged_host_is_refused(
    served: RunningServer, scraped: dict[str, str], kind: str
) -> None:
    if kind == "cdp":
        path = "/" + scraped["cdpUrl"].split("/", 3)[3]
    else:
        path = scraped["liveViewUrl"].removeprefix(served.url).replace("?", "/ws?")
    assert upgrade_status(served, path, FORGED) == 403
    assert upgrade_status(served, path, f"127.0.0.1:{_port(served)}") == 101


@pytest.mark.parametrize(
    ("host", "base"),
    [
        ("localhost:{port}", "localhost:{port}"),
        ("127.0.0.1:{port}", "127.0.0.1:{port}"),
        ("api.example.com", "api.example.com"),
        ("API.Example.com:8443", "api.example.com:8443"),
        ("eu.corp.example", "eu.corp.example"),
    ],
)
def test_links_are_built_on_a_trusted_host(
    served: RunningServer, scraped: dict[str, str], host: str, base: str
) -> None:
    port = _port(served)
    response = served.post(
        f"/v2/scrape/{scraped['id']}/interact",
        json={"code": "1", "language": "python"},
        headers={"Host": host.format(port=port)},
    )
    assert response.status_code == 200, response.text
    links = response.json()
    # Host names are case-insensitive; the links keep the case the client used.
    assert links["cdpUrl"].lower().startswith(f"ws://{base.format(port=port)}/v2/cdp/"), links
    assert links["liveViewUrl"].lower().startswith(f"http://{base.format(port=port)}/v2/live/")


def test_with_a_public_url_links_are_built_on_it(profiles_dir: Path, site: str) -> None:
    settings = ServerSettings(
        profiles_dir=profiles_dir, warm_browsers=0, public_url="https://agents.example.org/"
    )
    with RunningServer(settings) as server:
        scrape_id = server.scrape_id(f"{site}/page")
        links = server.interact(scrape_id, code="1", language="python").json()
        assert links["cdpUrl"].startswith("wss://agents.example.org/v2/cdp/"), links
        assert links["liveViewUrl"].startswith("https://agents.example.org/v2/live/"), links
        forged = server.post("/v2/scrape", json={"url": f"{site}/page"}, headers={"Host": FORGED})
        assert_error(forged, 400, FORGED)


ME = socket.gethostname().lower()

# (listening on, the connection's local address, Host, accepted?)
HOSTS: list[tuple[str, tuple[str, int], str | None, bool]] = [
    ("127.0.0.1", ("127.0.0.1", 3002), "127.0.0.1:3002", True),
    ("127.0.0.1", ("127.0.0.1", 3002), "localhost:3002", True),
    ("127.0.0.1", ("127.0.0.1", 3002), "localhost.:3002", True),
    ("127.0.0.1", ("127.0.0.1", 3002), "LOCALHOST:3002", True),
    ("127.0.0.1", ("127.0.0.1", 3002), "127.0.0.1:3003", False),
    ("127.0.0.1", ("127.0.0.1", 3002), "127.0.0.1", False),  # port 80 is not where it listens
    ("127.0.0.1", ("127.0.0.1", 80), "127.0.0.1", True),  # the scheme's default port
    ("127.0.0.1", ("127.0.0.1", 3002), "evil.example:3002", False),
    ("127.0.0.1", ("127.0.0.1", 3002), f"{ME}:3002", False),  # not a name of loopback
    ("127.0.0.1", ("127.0.0.1", 3002), "user@127.0.0.1:3002", False),
    ("127.0.0.1", ("127.0.0.1", 3002), "127.0.0.1:3002/x", False),
    ("127.0.0.1", ("127.0.0.1", 3002), "127.0.0.1:port", False),
    ("127.0.0.1", ("127.0.0.1", 3002), None, True),  # no Host: links on the connection's own
    ("::1", ("::1", 3002), "[::1]:3002", True),
    ("::1", ("::1", 3002), "[0:0:0:0:0:0:0:1]:3002", True),
    ("::1", ("::1", 3002), "localhost:3002", True),
    ("::1", ("::1", 3002), "[::2]:3002", False),
    ("0.0.0.0", ("10.1.2.3", 3002), "10.1.2.3:3002", True),  # the address the client used
    ("0.0.0.0", ("10.1.2.3", 3002), f"{ME}:3002", True),  # the machine's own name
    ("0.0.0.0", ("127.0.0.1", 3002), "localhost:3002", True),
    ("0.0.0.0", ("10.1.2.3", 3002), "10.9.9.9:3002", False),
    ("::", ("fe80::1", 3002), "[fe80::1]:3002", True),
    ("::", ("::1", 3002), "[::1]:3002", True),
    ("10.1.2.3", ("10.1.2.3", 3002), "localhost:3002", False),
]


@pytest.mark.parametrize(("listen", "server", "host", "accepted"), HOSTS)
def test_which_hosts_a_server_answers_to(
    listen: str, server: tuple[str, int], host: str | None, accepted: bool
) -> None:
    settings = ServerSettings(host=listen, port=server[1])
    said = host_refusal(settings, host, server, "http")
    assert (said is None) == accepted, said


def test_allowed_hosts_and_the_public_url_match_any_port() -> None:
    settings = ServerSettings(
        allowed_hosts="lb.example, .corp.example", public_url="https://agents.example.org"
    )
    server = ("127.0.0.1", 3002)
    for host in ("lb.example", "lb.example:443", "a.corp.example", "agents.example.org:8443"):
        assert host_refusal(settings, host, server, "http") is None, host
    for host in ("corp.example.evil", "xcorp.example", "lb.example.evil", "example.org"):
        assert host_refusal(settings, host, server, "http") is not None, host
    anything = ServerSettings(allowed_hosts="*")
    assert host_refusal(anything, "whatever.example", server, "http") is None
