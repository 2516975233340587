"""Fixtures for the reliability and security tests: a hostile local site and profile storage.

Servers are started per module (each module needs different settings, see
``tests.harness.RunningServer``); all of them listen on 127.0.0.1 only, and every page they
load is served by this process.
"""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import PageHandler, RunningServer, serve_hanging

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Reliability page</title></head><body><main>
<h1>Reliability page</h1><p id="out">loading</p>
<label>Name <input id="name" name="name"></label><button id="go">Go</button>
</main><script>
const wanted = new URLSearchParams(location.search).get("set");
if (wanted) {
  localStorage.setItem("token", wanted);
  document.cookie = "sid=" + wanted + "; max-age=3600; path=/";
}
const cookie = document.cookie.split("; ").find((c) => c.startsWith("sid=")) || "sid=none";
document.getElementById("out").textContent =
  "token=" + (localStorage.getItem("token") || "none") + " " + cookie;
</script></body></html>"""

# The document answers at once but one image never does, so the load event never fires.
HANGING_SUBRESOURCE = """<!doctype html><html><head><title>Half loaded</title></head>
<body><p>text is here</p><img src="/hang.png"></body></html>"""

# Loads, then keeps the page's main thread busy for good: nothing after loading can finish.
BUSY_AFTER_LOAD = """<!doctype html><html><head><title>Busy</title></head>
<body><p>spinning</p><script>
addEventListener("load", () => setTimeout(() => { for (;;) {} }, 50));
</script></body></html>"""


class HostileSite(PageHandler):
    """``/page`` (``?set=X`` stores X in a cookie and localStorage), ``/hang`` (never answers),
    ``/hang-subresource`` (answers, but its image never does), ``/busy`` (loads, then spins)."""

    protocol_version = "HTTP/1.0"
    release = threading.Event()  # set at teardown so hanging handler threads can end

    def do_GET(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        if path.startswith("/hang") and path != "/hang-subresource":
            self.release.wait(120)  # never answers within any test's timeout
            return
        body = {"/hang-subresource": HANGING_SUBRESOURCE, "/busy": BUSY_AFTER_LOAD}.get(path, PAGE)
        self.send_page(200, body)


@pytest.fixture(scope="session")
def site() -> Iterator[str]:
    """Base URL of the hostile site (no trailing slash)."""
    with serve_hanging(HostileSite, HostileSite.release) as url:
        yield url


@pytest.fixture(scope="module")
def profiles_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("profiles")


@pytest.fixture(scope="module")
def attacker(served: RunningServer, site: str) -> Iterator[str]:
    """Session A ("alice"), on the module's own server (its ``served``), that attacks."""
    alice = served.scrape_id(f"{site}/page?set=alice")
    yield alice
    served.stop_session(alice)
