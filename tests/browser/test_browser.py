"""Finding and launching Chromium, and closing it without leftovers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent import procfs
from agent.browser.launch import _group_alive, find_chromium, launch_browser
from agent.errors import BrowserNotFoundError


def test_configured_binary_wins(tmp_path: Path):
    fake = tmp_path / "my-chrome"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    assert find_chromium(str(fake)) == str(fake)


def test_configured_binary_that_is_not_executable_is_a_clear_error(tmp_path: Path):
    with pytest.raises(BrowserNotFoundError, match=r"AGENT_BROWSER_PATH.*apt-get install chromium"):
        find_chromium(str(tmp_path / "missing"))


def test_no_browser_anywhere_says_how_to_install_one(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path))
    with pytest.raises(BrowserNotFoundError, match="apt-get install chromium"):
        find_chromium(None)


def test_playwright_build_is_the_last_resort(monkeypatch, tmp_path: Path):
    build = tmp_path / "chromium-1234" / "chrome-linux" / "chrome"
    build.parent.mkdir(parents=True)
    build.write_text("#!/bin/sh\n")
    build.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path))
    assert find_chromium(None) == str(build)


async def test_launch_gives_a_cdp_url_and_close_kills_every_process():
    browser = await launch_browser()
    try:
        # DevTools over a pipe, shared through a private unix socket: no TCP port at all.
        assert browser.cdp_url.startswith("ws+unix://")
        assert oct(browser.client_socket.stat().st_mode & 0o777) == "0o600"
        assert oct(browser.client_socket.parent.stat().st_mode & 0o777) == "0o700"
        cmdline = b"\0".join(procfs.cmdline(browser.process.pid) or [])
        assert b"--remote-debugging-pipe" in cmdline and b"--remote-debugging-port" not in cmdline
        assert browser.alive
        await browser.page.set_content("<h1>hi</h1>")
        assert await browser.page.inner_text("h1") == "hi"
        group = os.getpgid(browser.process.pid)
    finally:
        await browser.close()
    assert not browser.alive
    assert not _group_alive(group), "browser processes were left after close"
    assert not os.path.exists(browser.user_data_dir)  # noqa: ASYNC240 - a test check
