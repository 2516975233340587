"""The Python API: ``Agent.interact(..., cache=True)`` replays a prompt it has seen on the same
page with no model call, and every successful run carries its recipe and ``script``."""

from __future__ import annotations

from pathlib import Path

from agent import Agent
from agent.config import Settings
from agent.models.scripted import ScriptedModel, tool_call
from tests.harness import Turns, find_ref


async def test_cache_replays_a_login_without_the_model(site: str, tmp_path: Path) -> None:
    model = ScriptedModel(
        Turns.strict(  # one run's worth: the second run must not ask
            lambda m: [
                tool_call("fill", ref=find_ref(m, "textbox", "Email"), value="ada@example.com"),
                tool_call("click", ref=find_ref(m, "button", "Continue")),
            ],
            lambda m: [tool_call("done", answer="Sent.")],
        )
    )
    settings = Settings(max_steps=4, data_dir=tmp_path, action_timeout=3)
    async with await Agent.open(f"{site}/checkout", model=model, settings=settings) as bot:
        first = await bot.interact("Send ada@example.com", cache=True)
        assert first.success and first.cache.status == "miss" and first.cache.model_calls == 2
        assert first.recipe is not None and [s.tool for s in first.recipe.steps] == [
            "fill",
            "click",
        ]
        assert first.script is not None and "--name Continue --exact" in first.script
        await bot.goto(f"{site}/checkout?v=restyled")
        second = await bot.interact("Send ada@example.com", cache=True)
        assert second.cache.status == "hit" and second.cache.model_calls == 0
        assert second.output == "Sent."
        assert await bot.page.evaluate("window.acted") == ["continue:ada@example.com"]
    assert len(model.requests) == 2
    assert (tmp_path / "prompt_cache.sqlite3").exists()
