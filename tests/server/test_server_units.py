"""The server's parts that need no browser: content conversion, schemas, profiles, settings, the
live view's input mapping, and the ``agent serve`` command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

import agent.server
from agent.errors import ConfigError, RequestError
from agent.server import ProfileStore, ServerSettings, status_of
from agent.server.live_view import _input_command
from agent.service.content import (
    clean_html,
    extract_images,
    extract_links,
    extract_metadata,
    to_markdown,
)
from agent.service.extract import check_answer, parse_json_answer
from agent.service.schemas import InteractRequest, ScrapeRequest
from tests.harness import assert_error, free_port

PAGE = """<html lang="de"><head><title> A  title </title><base href="/docs/">
<meta name="description" content="Desc"><meta property="og:image" content="first.png">
<meta property="og:image" content="second.png"><link rel="shortcut icon" href="fav.ico">
<script>var x = 1;</script><style>p { color: red }</style></head>
<body><nav><a href="nav.html">Nav</a></nav><div class="cookie-banner">Accept cookies</div>
<main><h2>Title</h2><p>Text <a href="page.html#frag">link</a> <a href="javascript:void(0)">js</a>
<a href="page.html">again</a> <a href="mailto:a@b.c">mail</a></p>
<img src="pic.png" alt="pic"><img src="data:image/png;base64,AAAA" alt="inline">
<ul><li>one</li><li>two</li></ul><div id="skip">skip me</div></main>
<!-- a comment --><footer>Foot</footer></body></html>"""
BASE = "https://site.test/start/index.html"


def test_main_content_drops_page_furniture() -> None:
    html = clean_html(PAGE, BASE)
    assert "Nav" not in html and "Foot" not in html and "Accept cookies" not in html
    assert "<script" not in html and "color: red" not in html and "a comment" not in html
    assert 'href="https://site.test/docs/page.html#frag"' in html  # <base href> respected
    whole = clean_html(PAGE, BASE, only_main_content=False)
    assert "Nav" in whole and "Foot" in whole


def test_include_and_exclude_tags() -> None:
    html = clean_html(PAGE, BASE, include_tags=["ul"], exclude_tags=["li:first-child"])
    assert "two" in html and "one" not in html and "Title" not in html
    with pytest.raises(ValueError, match="bad CSS selector"):
        clean_html(PAGE, BASE, exclude_tags=["<<<"])


def test_markdown() -> None:
    markdown = to_markdown(clean_html(PAGE, BASE))
    assert markdown.startswith("## Title")
    assert "[link](https://site.test/docs/page.html#frag)" in markdown
    assert "- one\n- two" in markdown
    assert "![inline](<Base64-Image-Removed>)" in markdown
    kept = to_markdown(clean_html(PAGE, BASE), remove_base64_images=False)
    assert "data:image/png;base64,AAAA" in kept
    assert to_markdown("") == ""


def test_links_images_and_metadata() -> None:
    assert extract_links(PAGE, BASE) == [
        "https://site.test/docs/nav.html",
        "https://site.test/docs/page.html",
    ]
    assert extract_images(PAGE, BASE) == ["https://site.test/docs/pic.png"]
    meta = extract_metadata(PAGE, BASE)
    assert meta["title"] == "A title"
    assert meta["language"] == "de"
    assert meta["description"] == "Desc"
    assert meta["ogImage"] == "first.png"
    assert meta["favicon"] == "https://site.test/docs/fav.ico"
    assert extract_metadata("", BASE) == {}


def test_scrape_request_accepts_both_spellings_and_refuses_unknown_fields() -> None:
    request = ScrapeRequest.model_validate({"url": " https://a.test/ ", "only_main_content": False})
    assert request.url == "https://a.test/"
    assert request.only_main_content is False
    assert request.format_names() == {"markdown"}
    with pytest.raises(ValidationError, match="newThing"):
        ScrapeRequest.model_validate({"url": "https://a.test/", "newThing": 1})
    shot = ScrapeRequest.model_validate(
        {
            "url": "https://a.test/",
            "formats": [
                {"type": "screenshot", "fullPage": True, "viewport": {"width": 400, "height": 300}}
            ],
        }
    )
    options = shot.screenshot_options()
    assert options is not None and options.full_page
    assert options.viewport is not None and (options.viewport.width, options.viewport.height) == (
        400,
        300,
    )
    legacy = ScrapeRequest.model_validate(
        {"url": "https://a.test/", "formats": ["screenshot@fullPage"]}
    )
    legacy_options = legacy.screenshot_options()
    assert legacy_options is not None and legacy_options.full_page
    with pytest.raises(ValidationError, match="viewport"):
        ScrapeRequest.model_validate(
            {"url": "https://a.test/", "formats": [{"type": "screenshot", "viewport": {"w": 1}}]}
        )


def test_json_answers_are_parsed_and_checked() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    assert parse_json_answer('Sure: {"n": 1}. Anything else?') == {"n": 1}
    assert parse_json_answer("```json\n[1, 2]\n```") == [1, 2]
    with pytest.raises(ValueError, match="not JSON"):
        parse_json_answer("no idea")
    assert check_answer('{"n": 2}', schema) == ({"n": 2}, [])
    assert check_answer('{"n": "2"}', schema)[1] == ["at $.n: '2' is not of type 'integer'"]
    assert check_answer("", schema)[1] == ["the answer was empty"]
    assert check_answer('"just text"', None) == ("just text", [])
    # A $ref that leaves the schema is never fetched, even under a nested $id.
    nested = {"$id": "http://127.0.0.1:9/y", "properties": {"d": {"$ref": "#/x"}}}
    with pytest.raises(RequestError, match="leads nowhere"):
        check_answer('{"c": {"d": 1}}', {"properties": {"c": nested}})


def test_interact_request_language() -> None:
    assert InteractRequest(code="1").code_language == "node"
    assert InteractRequest(code="1", language="bash").code_language == "bash"
    assert InteractRequest(prompt="hi", language="cobol").prompt == "hi"


async def test_profile_store(tmp_path: Path) -> None:
    store = ProfileStore(tmp_path / "profiles")
    # As Firecrawl counts (UTF-16 units): 64 emoji fit, 65 do not.
    assert store.path("\U0001f600" * 64).parent == (tmp_path / "profiles").resolve()
    for bad in ("", "x" * 129, "\U0001f600" * 65, "a\x00b", "a\ud800b"):
        with pytest.raises(RequestError) as caught:
            store.path(bad)
        assert status_of(caught.value) == 400
    await store.acquire_writer("bob", "s1")
    await store.acquire_writer("bob", "s1")  # the same holder again is fine
    with pytest.raises(RequestError) as conflict:
        await store.acquire_writer("bob", "s2")
    assert status_of(conflict.value) == 409
    await store.release_writer("bob", "s2")  # not the holder: no effect
    assert await store.writer_of("bob") == "s1"
    await store.release_writer("bob", "s1")
    await store.acquire_writer("bob", "s2")
    assert await store.load("never-saved") is None
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "broken.json").write_text("{not json")
    with pytest.raises(RequestError, match="not valid JSON"):
        await store.load("broken")


def test_profile_names_map_to_files_directly_inside_the_profiles_folder(tmp_path: Path) -> None:
    folder = tmp_path / "profiles"
    store = ProfileStore(folder)
    # Names that were allowed before any character was keep their files.
    for plain in ("alice", "kept-profile", "v1.2_b", "x" * 64):
        assert store.path(plain) == folder.resolve() / f"{plain}.json"
    names = [
        "../x", "..\\x", "/etc/passwd", "a/../../b", ".hidden", ".", "..", "a..b", "x" * 65,
        "x" * 128, "user@example.com", "prof\U0001f600", "~", "alice~1", "ALICE/..", " ",
    ]  # fmt: skip
    paths = [store.path(name) for name in names]
    assert len(set(paths)) == len(names), "two names share a file"
    for name, path in zip(names, paths, strict=True):
        assert path.parent == folder.resolve(), (name, path)
        assert not path.name.startswith(".") and path.name.endswith(".json")
        assert "~" in path.name and path.name != "alice.json"
        assert len(path.name.encode()) < 100
    assert store.path("user@example.com").name.startswith("user_example_com~")


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_API_KEYS", " key-alpha, key-beta ,,")
    monkeypatch.setenv("AGENT_MAX_SESSIONS", "3")
    monkeypatch.setenv("AGENT_MODEL", "openai:gpt-4.1-mini")  # the agent's own: ignored here
    settings = ServerSettings()
    assert settings.key_values() == [b"key-alpha", b"key-beta"]
    assert settings.max_sessions == 3
    assert "key-alpha" not in repr(settings)
    monkeypatch.setenv("AGENT_SESSION_TTL", "-1")
    with pytest.raises(ConfigError, match="AGENT_SESSION_TTL"):
        ServerSettings()


def test_live_view_input_mapping() -> None:
    click = _input_command(
        {"type": "mouse", "event": "mousePressed", "x": 10, "y": 20, "button": "left",
         "clickCount": 1}
    )  # fmt: skip
    assert click == (
        "Input.dispatchMouseEvent",
        {"type": "mousePressed", "x": 10.0, "y": 20.0, "button": "left", "modifiers": 0,
         "clickCount": 1},
    )  # fmt: skip
    key = _input_command({"type": "key", "event": "keyDown", "key": "a", "code": "KeyA",
                          "text": "a", "keyCode": 65})  # fmt: skip
    assert key is not None and key[1]["text"] == "a" and key[1]["windowsVirtualKeyCode"] == 65
    wheel = _input_command({"type": "wheel", "x": 1, "y": 1, "deltaY": 120})
    assert wheel is not None and wheel[1]["type"] == "mouseWheel"
    for bad in (
        {"type": "mouse", "event": "mousePressed", "x": "1", "y": 2},
        {"type": "mouse", "event": "explode", "x": 1, "y": 2},
        {"type": "mouse", "event": "mousePressed", "x": -5, "y": 2},
        {"type": "key", "event": "keyDown", "key": "x" * 100},
        {"type": "script", "code": "alert(1)"},
        {},
    ):
        assert _input_command(bad) is None


def test_public_names() -> None:
    for name in agent.server.__all__:
        assert hasattr(agent.server, name), name
    assert sorted(agent.server.__all__) == agent.server.__all__


def test_agent_serve_runs_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "AGENT_PROFILES_DIR": str(tmp_path), "AGENT_API_KEYS": "secret"}
    process = subprocess.Popen(
        [sys.executable, "-m", "agent", "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline, "agent serve did not start"
                time.sleep(0.2)
        assert health.json()["success"] is True
        denied = httpx.delete(f"http://127.0.0.1:{port}/v2/scrape/x/interact", timeout=5)
        assert_error(denied, 401)
        # The MCP server is mounted at /mcp, behind the same keys.
        assert_error(httpx.post(f"http://127.0.0.1:{port}/mcp", json={}, timeout=5), 401)
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=30)[0]
    # uvicorn shuts down gracefully (lifespan: sessions and spare browsers closed), then
    # re-raises the signal it caught, so the exit status is 0 or "killed by SIGTERM".
    assert process.returncode in (0, -signal.SIGTERM), output
