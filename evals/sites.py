"""The eval sites: served on 127.0.0.1, seen by the browser at one fixed origin.

Every task page is served by a real HTTP server on an ephemeral loopback port, but the browser
only ever sees ``http://127.0.0.1:8931``: a route on the browser context forwards that origin to
the live server. URLs in snapshots, tool results and so in recorded model requests are therefore
the same on every run and every machine, runs never fight over a port, and parallel tasks each
route their own browser. Any other http(s) request is aborted, so a page can never reach out.
"""

from __future__ import annotations

import functools
import io
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evals.loopback import LoopbackServer
from evals.site_pages import SITES_DIR, page_html

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Route

__all__ = ["SITES_DIR", "SITE_ORIGIN", "SiteServer", "route_sites", "serve_page", "site_url"]

SITE_ORIGIN = "http://127.0.0.1:8931"
"""The origin every eval page is opened at, whatever port the server really listens on."""

_ANY_WEB = re.compile(r"^(https?|wss?)://")


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send_head(self) -> Any:
        # A page is rendered from its template (see evals.site_pages); anything else is a file.
        path = self.translate_path(self.path)
        if os.path.isdir(path) and self.path.split("?")[0].endswith("/"):
            path = os.path.join(path, "index.html")
        if not (path.endswith(".html") and os.path.isfile(path)):
            return super().send_head()
        body = page_html(
            Path(os.path.relpath(path, self.directory)).as_posix(), Path(self.directory)
        )
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Last-Modified", self.date_time_string(int(os.path.getmtime(path))))
        self.end_headers()
        return io.BytesIO(body)

    def end_headers(self) -> None:
        # Pages must not be cached between tasks: a stale page would change what a task sees.
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


class SiteServer(LoopbackServer):
    """Serves ``evals/sites`` (or another folder) on 127.0.0.1; use as a context manager."""

    def __init__(self, root: Path = SITES_DIR) -> None:
        self.root = root
        super().__init__(functools.partial(_QuietHandler, directory=str(root)))

    @property
    def live_origin(self) -> str:
        """Where the server really listens, e.g. ``http://127.0.0.1:40213``."""
        return self.url


def site_url(path: str) -> str:
    """The URL of a page under ``evals/sites``, as the browser sees it (``suite/login.html``)."""
    return f"{SITE_ORIGIN}/{path.lstrip('/')}"


async def route_sites(context: BrowserContext, server: SiteServer) -> None:
    """Send requests for :data:`SITE_ORIGIN` to ``server``; abort every other web request."""
    prefix = SITE_ORIGIN + "/"

    async def handle(route: Route) -> None:
        url = route.request.url
        if url.startswith(prefix) or url == SITE_ORIGIN:
            live = server.live_origin + url[len(SITE_ORIGIN) :]
            try:
                response = await route.fetch(url=live)
            except Exception:  # the server closed under a closing page
                await route.abort()
                return
            await route.fulfill(response=response)
        else:
            await route.abort("blockedbyclient")

    await context.route(_ANY_WEB, handle)


@contextmanager
def serve_page(html: bytes) -> Iterator[str]:
    """Serve one page at every path on an ephemeral loopback port; yield the base URL.

    For the benchmarks and the load test, whose sessions all load the same small page.
    """

    class _OnePage(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(html)))
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with LoopbackServer(_OnePage) as server:
        yield server.url
