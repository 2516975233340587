"""Fixtures for planner tests: the demo site over HTTP, a browser session, scripted policies."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from agent.browser import grammar
from agent.browser.session import BrowserSession
from agent.config import Settings
from agent.messages import Message, ToolSpec, UserMessage
from agent.models.scripted import ScriptPolicy, ScriptStep

DEMO_SITE = Path(__file__).resolve().parents[2] / "evals" / "sites" / "demo"

Turn = Callable[[Sequence[Message]], ScriptStep]


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="session")
def demo_url() -> Iterator[str]:
    """Base URL (with a trailing slash) of the demo site, served on an ephemeral port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=DEMO_SITE))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
async def shared_session() -> AsyncIterator[BrowserSession]:
    session = await BrowserSession.start(action_timeout_s=3, navigation_timeout_s=10)
    try:
        yield session
    finally:
        await session.close()


@pytest.fixture
async def session(shared_session: BrowserSession) -> AsyncIterator[BrowserSession]:
    """One browser per module, reset to a single blank tab for each test."""
    yield shared_session
    if not shared_session.alive:
        return
    pages = shared_session.tabs
    for extra in pages[1:]:
        await extra.close()
    shared_session.switch_to(pages[0])
    await pages[0].goto("about:blank")


@pytest.fixture
def settings() -> Settings:
    return Settings(max_steps=8, max_snapshot_tokens=2000)


def find_ref(messages: Sequence[Message], role: str, name: str) -> str:
    """The ref of ``role "name"`` in the newest observation that shows one, like ``@e7``."""
    for message in reversed(messages):
        if isinstance(message, UserMessage):
            found = grammar.find_ref(message.content, role, name)
            if found:
                return found
    raise AssertionError(f'no {role} "{name}" in any observation')


def latest_observation(messages: Sequence[Message]) -> str:
    for message in reversed(messages):
        if isinstance(message, UserMessage) and "# Snapshot" in message.content:
            return message.content
    raise AssertionError("no observation was sent")


def turns(*script: Turn) -> ScriptPolicy:
    """A policy that answers request N with ``script[N](messages)``, so turns can read refs."""
    position = 0

    def policy(messages: Sequence[Message], tools: Sequence[ToolSpec]) -> ScriptStep:
        nonlocal position
        if position >= len(script):
            raise AssertionError(f"the loop asked the model {position + 1} times; scripted less")
        turn = script[position]
        position += 1
        return turn(messages)

    return policy


@pytest.fixture
def ref_of() -> Callable[[Sequence[Message], str, str], str]:
    return find_ref


@pytest.fixture
def observation_of() -> Callable[[Sequence[Message]], str]:
    return latest_observation


@pytest.fixture
def scripted_turns() -> Callable[..., ScriptPolicy]:
    return turns
