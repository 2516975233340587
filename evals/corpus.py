"""The shared corpus of real saved pages, served on loopback for benchmarks."""

from __future__ import annotations

import functools
import http.server
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.async_api import BrowserContext

__all__ = ["corpus_dir", "load_only_loopback", "serve_corpus"]


def corpus_dir() -> Path:
    """``AGENT_CORPUS_DIR``, or ``../shared/corpus/pages`` beside the repository."""
    configured = os.environ.get("AGENT_CORPUS_DIR")
    path = (
        Path(configured)
        if configured
        else Path(__file__).resolve().parents[2] / "shared/corpus/pages"
    )
    if not path.is_dir():
        raise SystemExit(
            f"corpus folder {path} not found; set AGENT_CORPUS_DIR to the folder of saved pages"
        )
    return path


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serve_corpus(directory: Path | None = None) -> Iterator[str]:
    """Serve the corpus on an ephemeral loopback port and yield its base URL."""
    handler = functools.partial(_Quiet, directory=str(directory or corpus_dir()))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


_NOT_LOOPBACK = re.compile(r"^(?!http://127\.0\.0\.1)")


async def load_only_loopback(context: BrowserContext) -> None:
    """Abort every request of ``context`` but to loopback: saved pages reference third-party
    hosts, and only the corpus server may answer, so nothing can hang."""
    await context.route(_NOT_LOOPBACK, lambda route: route.abort())
