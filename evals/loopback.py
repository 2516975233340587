"""An HTTP server on 127.0.0.1, on a port the system picks, served from a daemon thread.

The eval sites, the fake model provider and the one-page server of the benchmarks are each one
of these with their own request handler.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from socketserver import BaseRequestHandler
from typing import Any, Self

__all__ = ["LoopbackServer"]


class LoopbackServer:
    """Serves ``handler`` on loopback; use as a context manager, or ``start()`` and ``close()``."""

    def __init__(
        self, handler: Callable[..., BaseRequestHandler], *, poll_interval: float = 0.05
    ) -> None:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": poll_interval}, daemon=True
        )

    @property
    def url(self) -> str:
        """Where the server listens: ``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.close()
