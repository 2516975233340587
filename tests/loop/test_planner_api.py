"""The Python API: Agent.open / interact / close against the demo site."""

from __future__ import annotations

import re

import pytest

import agent
from agent import Agent, InteractionResult
from agent.config import Settings
from agent.errors import BrowserError, ConfigError
from agent.models.scripted import ScriptedModel, tool_call
from tests.harness import Turns, find_ref, latest_observation


async def test_open_interact_close(site: str) -> None:
    model = ScriptedModel(
        Turns.strict(
            lambda m: [
                tool_call("fill", ref=find_ref(m, "textbox", "Username"), value="demo"),
                tool_call("fill", ref=find_ref(m, "textbox", "Password"), value="secret"),
                tool_call("click", ref=find_ref(m, "button", "Sign in")),
            ],
            lambda m: [
                tool_call("done", answer=re.search(r"Welcome back[^\n]*", latest_observation(m))[0])
            ],
            lambda m: "Sign in",  # second prompt: answer in plain text
        )
    )
    settings = Settings(max_steps=5, max_snapshot_tokens=1500)
    async with await Agent.open(f"{site}/login.html", model=model, settings=settings) as bot:
        assert (await bot.snapshot()).tokens <= 1500
        first = await bot.interact("Sign in as demo with the password secret")
        assert isinstance(first, InteractionResult)
        assert first.success and first.stop_reason == "done"
        assert first.output == "Welcome back, demo! You have 3 unread messages."
        assert "Welcome back, demo!" in first.result
        second = await bot.interact("What is the page's heading?", max_steps=1)
        assert second.output == "Sign in" and second.stop_reason == "answer"
        assert "Step 1 of 1" in model.requests[-1].messages[-1].content  # type: ignore[union-attr]
        shot = await bot.snapshot(mode="interactive")
        assert shot.title == "Sign in - Demo shop"
        assert bot.page.url.endswith("login.html")
    assert not bot.session.alive
    await bot.close()  # closing twice is harmless


async def test_open_without_a_model_fails_before_launching() -> None:
    with pytest.raises(ConfigError, match="No model configured"):
        await Agent.open("http://127.0.0.1:9/", settings=Settings(model=None))
    with pytest.raises(ConfigError, match="test double"):
        await Agent.open(model="scripted:anything", settings=Settings())


async def test_open_builds_the_model_from_its_id() -> None:
    settings = Settings(openai_api_key="test-key", headless=True)
    async with await Agent.open(model="openai:gpt-4.1-mini", settings=settings) as bot:
        assert bot.model.model_id == "openai:gpt-4.1-mini"
        assert bot.page.url == "about:blank"


async def test_open_an_unreachable_url_closes_the_browser(site: str) -> None:
    with pytest.raises(BrowserError, match=r"Could not open http://127\.0\.0\.1:9/"):
        await Agent.open("http://127.0.0.1:9/", model=ScriptedModel([]), settings=Settings())


async def test_interact_rejects_zero_steps(site: str) -> None:
    async with await Agent.open(model=ScriptedModel([]), settings=Settings()) as bot:
        with pytest.raises(ConfigError, match="max_steps"):
            await bot.interact("anything", max_steps=0)


def test_exported_from_the_package() -> None:
    assert agent.Agent is Agent
    assert {"Agent", "InteractionResult", "Step", "run_prompt"} <= set(agent.__all__)
